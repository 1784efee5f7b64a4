#!/usr/bin/env python3
"""Render Skiff's synthetic invoice samples.

Writes three fictitious invoices into the output folder (default: samples/ next
to this tools/ folder), each as

  NAME.png / NAME.jpg      the page image
  NAME.expected.json       the true field values (validates against schemas/invoice.json)
  NAME.gt.txt              the text lines as rendered, top to bottom, one per line

  invoice-001  clean A4, 200 dpi, RGB PNG (pHYs 200 dpi), EUR, German style
               (dates 04.03.2025, amounts 1.234,56)
  invoice-002  US letter, 150 dpi, RGB baseline JPEG quality 85 (JFIF 150 dpi), USD
               (dates "March 11, 2025", amounts 1,234.56)
  invoice-003  "scanned" A4, 200 dpi, 8-bit grayscale PNG (pHYs 200 dpi), GBP
               (ISO dates 2025-02-27): rotated < 1 degree, paper tone, scanner
               shadow, blur, speckle noise

All names, addresses, numbers and bank details are made up (phone numbers use
the ranges reserved for fiction where such exist; web and mail addresses use
the reserved .example domain).

Deterministic: the content is fixed and the image noise comes from fixed
seeds, so the same Pillow/numpy/FreeType versions give byte-identical files.
(The .expected.json and .gt.txt files do not depend on any library version.)

gt.txt rule: every drawn text item is recorded with its baseline; items whose
baselines lie within 4 pt of each other form one line, ordered left to right
and joined with a single space (so a label and its right-aligned value, or two
side-by-side blocks, give one line, as tesseract --psm 4 reads them).

Usage:  python3 tools/render_samples.py [OUTDIR]
Needs:  Pillow, numpy, DejaVu fonts (/usr/share/fonts/truetype/dejavu/).
"""

import datetime as dt
import json
import os
import sys
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = os.environ.get("SKIFF_FONT_DIR", "/usr/share/fonts/truetype/dejavu")
SEED = 20250304

CENT = Decimal("0.01")


def money(x):
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- formatting

def fmt_us(d, places=2):
    """1234.5 -> '1,234.50'"""
    return f"{Decimal(d):,.{places}f}"


def fmt_eu(d, places=2):
    """1234.5 -> '1.234,50'"""
    return fmt_us(d, places).replace(",", "_").replace(".", ",").replace("_", ".")


def fmt_qty_eu(q):
    q = Decimal(q)
    return fmt_eu(q, 0) if q == q.to_integral() else fmt_eu(q, 1)


def fmt_qty_us(q):
    q = Decimal(q)
    return fmt_us(q, 0) if q == q.to_integral() else fmt_us(q, 1)


def date_long_us(d):
    return f"{d.strftime('%B')} {d.day}, {d.year}"   # March 11, 2025


def date_dotted(d):
    return d.strftime("%d.%m.%Y")                      # 04.03.2025


def date_iso(d):
    return d.isoformat()                               # 2025-02-27


def num(d):
    """Decimal -> JSON number (int when whole, else float with the same digits)."""
    d = Decimal(d)
    return int(d) if d == d.to_integral() else float(d)


# ---------------------------------------------------------------- canvas

class Page:
    """A page image plus a record of every text item drawn on it."""

    def __init__(self, width_in, height_in, dpi, mode="RGB"):
        self.dpi = dpi
        self.W = round(width_in * dpi)
        self.H = round(height_in * dpi)
        self.mode = mode
        self.img = Image.new(mode, (self.W, self.H), "white")
        self.draw = ImageDraw.Draw(self.img)
        self.items = []          # (baseline_y, left_x, text)
        self.boxes = []          # (x0, y0, x1, y1, text)
        self._fonts = {}

    def pt(self, p):
        return p * self.dpi / 72.0

    def mm(self, m):
        return m * self.dpi / 25.4

    def font(self, name, size_pt):
        key = (name, size_pt)
        if key not in self._fonts:
            self._fonts[key] = ImageFont.truetype(os.path.join(FONT_DIR, name + ".ttf"),
                                                  round(self.pt(size_pt)))
        return self._fonts[key]

    def col(self, rgb):
        if self.mode == "L":
            r, g, b = rgb
            return round(0.299 * r + 0.587 * g + 0.114 * b)
        return rgb

    def text(self, x, y, s, font, fill=(0, 0, 0), anchor="ls"):
        """Draw s with its baseline at y; anchor 'ls' left, 'rs' right, 'ms' centre."""
        x, y = round(x), round(y)
        self.draw.text((x, y), s, font=font, fill=self.col(fill), anchor=anchor)
        box = self.draw.textbbox((x, y), s, font=font, anchor=anchor)
        self.items.append((y, box[0], s))
        self.boxes.append((*box, s))

    def hline(self, x0, x1, y, width=1, fill=(0, 0, 0)):
        self.draw.line([(round(x0), round(y)), (round(x1), round(y))], fill=self.col(fill), width=width)

    def rect(self, box, fill=None, outline=None, width=1):
        box = [round(v) for v in box]
        self.draw.rectangle(box, fill=None if fill is None else self.col(fill),
                            outline=None if outline is None else self.col(outline), width=width)

    def gt_lines(self):
        tol = self.pt(4)
        groups = []
        for y, x, s in sorted(self.items):
            if groups and y - groups[-1][0] <= tol:
                groups[-1][1].append((x, s))
            else:
                groups.append((y, [(x, s)]))
        return [" ".join(" ".join(s.split()) for _, s in sorted(g)) for _, g in groups]

    def check_overlaps(self, pad=2):
        """Fail if any two recorded text items overlap (a layout bug)."""
        boxes = self.boxes
        for i in range(len(boxes)):
            a = boxes[i]
            for b in boxes[i + 1:]:
                if a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad:
                    raise AssertionError(f"text overlap: {a[4]!r} / {b[4]!r}")

    def check_vline(self, x, y0, y1, pad=4):
        for b in self.boxes:
            if b[0] - pad < x < b[2] + pad and b[1] < y1 and y0 < b[3]:
                raise AssertionError(f"rule at x={x:.0f} crosses {b[4]!r}")


# ---------------------------------------------------------------- invoice data

def build_items(rows):
    items = []
    for desc, qty, price in rows:
        qty, price = Decimal(qty), Decimal(price)
        items.append({"description": desc, "quantity": qty, "unit_price": price,
                      "amount": money(qty * price)})
    return items


def totals(items, rate_percent):
    sub = sum((it["amount"] for it in items), Decimal("0"))
    tax = money(sub * Decimal(rate_percent) / 100)
    return sub, tax, sub + tax


def expected_json(inv):
    return {
        "invoice_number": inv["invoice_number"],
        "invoice_date": date_iso(inv["invoice_date"]),
        "due_date": date_iso(inv["due_date"]),
        "vendor": {
            "name": inv["vendor_name"],
            "address": ", ".join(inv["vendor_address"]),
            "tax_id": inv["vendor_tax_id"],
        },
        "customer": {
            "name": inv["customer_name"],
            "address": ", ".join(inv["customer_address"]),
        },
        "po_number": inv["po_number"],
        "currency": inv["currency"],
        "line_items": [
            {"description": it["description"], "quantity": num(it["quantity"]),
             "unit_price": num(it["unit_price"]), "amount": num(it["amount"])}
            for it in inv["items"]
        ],
        "subtotal": num(inv["subtotal"]),
        "total_tax": num(inv["tax"]),
        "total": num(inv["total"]),
        "payment_terms": inv["payment_terms"],
    }


# ---------------------------------------------------------------- invoice-001

def invoice_001():
    """Clean A4, 200 dpi, RGB PNG. German vendor, English labels, EUR, decimal comma."""
    inv = {
        "invoice_number": "2025-0317",
        "invoice_date": dt.date(2025, 3, 4),
        "due_date": dt.date(2025, 4, 3),
        "vendor_name": "Nordlicht Bürotechnik GmbH",
        "vendor_address": ["Hafenstraße 17", "20457 Hamburg", "Germany"],
        "vendor_tax_id": "DE284519736",
        "customer_name": "Brandt & Hoyer Logistik GmbH",
        "customer_address": ["Am Speicher 9", "28217 Bremen", "Germany"],
        "po_number": "4500172936",
        "currency": "EUR",
        "payment_terms": "30 days net",
        "vat_rate": "19",
    }
    inv["items"] = build_items([
        ("Colour laser printer CLP-4200dn", "2", "489.00"),
        ("Toner cartridge black, high yield", "6", "74.90"),
        ("Copy paper A4 80 gsm, box of 5 reams", "12", "23.50"),
        ("On-site installation and network setup", "3.5", "85.00"),
        ("Delivery and packaging", "1", "35.00"),
    ])
    units = ["pcs", "pcs", "box", "h", "flat"]
    inv["subtotal"], inv["tax"], inv["total"] = totals(inv["items"], inv["vat_rate"])

    p = Page(210 / 25.4, 297 / 25.4, 200, "RGB")
    navy, grey, accent = (22, 46, 92), (90, 90, 90), (0, 122, 140)
    reg = lambda s: p.font("DejaVuSans", s)
    bold = lambda s: p.font("DejaVuSans-Bold", s)
    L, R = p.mm(20), p.W - p.mm(20)

    # accent bar and a simple logo mark (no text)
    p.rect((0, 0, p.W, p.mm(6)), fill=accent)
    lx, ly = L, p.mm(16)
    p.draw.ellipse([round(lx), round(ly), round(lx + p.mm(14)), round(ly + p.mm(14))], fill=navy)
    p.draw.polygon([(lx + p.mm(4), ly + p.mm(9.5)), (lx + p.mm(7), ly + p.mm(4)),
                    (lx + p.mm(10), ly + p.mm(9.5))], fill=(255, 255, 255))

    y = p.mm(27)
    p.text(L + p.mm(18), y, inv["vendor_name"], bold(17), navy)
    p.text(R, y, "INVOICE", bold(24), accent, anchor="rs")

    # vendor block (left) and invoice details (right) on one row grid
    lead = p.pt(15)
    y = p.mm(44)
    left = inv["vendor_address"][:2] + [
        inv["vendor_address"][2],
        "VAT ID: " + inv["vendor_tax_id"],
        "Tel. +49 40 3861 2290",
        "billing@nordlicht-buero.example",
    ]
    rx = p.W - p.mm(88)
    right = [
        ("Invoice No.:", inv["invoice_number"]),
        ("Invoice date:", date_dotted(inv["invoice_date"])),
        ("Due date:", date_dotted(inv["due_date"])),
        ("Customer PO:", inv["po_number"]),
        ("Customer No.:", "10482"),
    ]
    for i, s in enumerate(left):
        p.text(L, y + i * lead, s, reg(10), grey if i >= 4 else (0, 0, 0))
    for i, (k, v) in enumerate(right):
        p.text(rx, y + i * lead, k, bold(10))
        p.text(R, y + i * lead, v, reg(10), anchor="rs")

    # bill-to block
    y = p.mm(44) + 6 * lead + p.mm(8)
    p.text(L, y, "Bill to:", bold(10), accent)
    bill = [inv["customer_name"], "Attn. Accounts Payable"] + inv["customer_address"] + [
        "VAT ID: DE311907458"]
    for i, s in enumerate(bill):
        p.text(L, y + (i + 1) * lead, s, bold(11) if i == 0 else reg(10))
    y += (len(bill) + 1) * lead + p.mm(10)

    p.text(L, y, "Dear Sir or Madam, we invoice you for the following goods and services:", reg(10))
    y += p.mm(10)

    # line-item table
    cols = {"pos": L + p.mm(2), "desc": L + p.mm(14), "qty": L + p.mm(99),
            "unit": L + p.mm(102), "price": L + p.mm(136), "amount": R - p.mm(2)}
    row_h = p.pt(20)
    p.rect((L, y - p.pt(14), R, y + p.pt(6)), fill=(226, 234, 243))
    p.text(cols["pos"], y, "Pos.", bold(10))
    p.text(cols["desc"], y, "Description", bold(10))
    p.text(cols["qty"], y, "Qty", bold(10), anchor="rs")
    p.text(cols["unit"], y, "Unit", bold(10))
    p.text(cols["price"], y, "Unit price", bold(10), anchor="rs")
    p.text(cols["amount"], y, "Amount (EUR)", bold(10), anchor="rs")
    y += row_h + p.pt(4)
    for i, (it, unit) in enumerate(zip(inv["items"], units), 1):
        p.text(cols["pos"], y, str(i), reg(10))
        p.text(cols["desc"], y, it["description"], reg(10))
        p.text(cols["qty"], y, fmt_qty_eu(it["quantity"]), reg(10), anchor="rs")
        p.text(cols["unit"], y, unit, reg(10))
        p.text(cols["price"], y, fmt_eu(it["unit_price"]), reg(10), anchor="rs")
        p.text(cols["amount"], y, fmt_eu(it["amount"]), reg(10), anchor="rs")
        p.hline(L, R, y + p.pt(7), 1, (200, 200, 200))
        y += row_h
    y += p.mm(6)

    # totals
    tx = R - p.mm(70)
    p.text(tx, y, "Subtotal", reg(10))
    p.text(cols["amount"], y, fmt_eu(inv["subtotal"]), reg(10), anchor="rs")
    y += lead
    p.text(tx, y, f"VAT {inv['vat_rate']}%", reg(10))
    p.text(cols["amount"], y, fmt_eu(inv["tax"]), reg(10), anchor="rs")
    y += p.pt(6)
    p.hline(tx, R, y, 2, navy)
    y += p.pt(17)
    p.text(tx, y, "Total EUR", bold(12), navy)
    p.text(cols["amount"], y, fmt_eu(inv["total"]), bold(12), navy, anchor="rs")
    y += p.mm(16)

    # terms and bank details
    for s in [
        "Payment terms: " + inv["payment_terms"],
        "Please transfer the total amount, quoting the invoice number, to:",
        "Elbufer Bank AG   IBAN DE89 3704 0044 0532 0130 00   BIC ELBUDEHHXXX",
        "Delivery date corresponds to invoice date unless stated otherwise.",
    ]:
        p.text(L, y, s, reg(10))
        y += lead

    # footer
    fy = p.H - p.mm(18)
    p.hline(L, R, fy - p.pt(12), 1, (180, 180, 180))
    p.text(L, fy, "Nordlicht Bürotechnik GmbH | Managing Director: Jana Albers | "
                  "Register court Hamburg HRB 174203", reg(7.5), grey)
    p.text(L, fy + p.pt(11), "www.nordlicht-buero.example | VAT ID DE284519736 | Page 1 of 1",
           reg(7.5), grey)
    return p, inv


# ---------------------------------------------------------------- invoice-002

def invoice_002():
    """US letter, 150 dpi, JPEG. US vendor, USD, long dates."""
    inv = {
        "invoice_number": "TCS-10487",
        "invoice_date": dt.date(2025, 3, 11),
        "due_date": dt.date(2025, 4, 10),
        "vendor_name": "Tallgrass Circuit Software, Inc.",
        "vendor_address": ["4410 Lamar Commons Drive, Suite 210", "Austin, TX 78756"],
        "vendor_tax_id": "84-2719035",
        "customer_name": "Harborview Dental Group, PLLC",
        "customer_address": ["2250 Westheimer Road, Suite 400", "Houston, TX 77098"],
        "po_number": "HDG-2291",
        "currency": "USD",
        "payment_terms": "Net 30",
        "tax_rate": "8.25",
    }
    inv["items"] = build_items([
        ("Practice management software license (annual, per seat)", "12", "420.00"),
        ("Data migration from legacy system", "1", "1850.00"),
        ("On-site staff training (hours)", "16", "95.00"),
        ("Barcode label printer, thermal", "3", "289.99"),
        ("Receipt paper rolls, case of 50", "2", "64.50"),
        ("Priority support plan, 12 months", "1", "1200.00"),
        ("Shipping and handling", "1", "45.00"),
    ])
    inv["subtotal"], inv["tax"], inv["total"] = totals(inv["items"], inv["tax_rate"])

    p = Page(8.5, 11, 150, "RGB")
    ink, dark, mid = (25, 25, 25), (40, 62, 48), (110, 110, 110)
    reg = lambda s: p.font("DejaVuSansCondensed", s)
    bold = lambda s: p.font("DejaVuSansCondensed-Bold", s)
    serif_b = lambda s: p.font("DejaVuSerif-Bold", s)
    L, R = 0.75 * p.dpi, p.W - 0.75 * p.dpi
    lead = p.pt(14)

    # header: vendor (left), INVOICE title (right)
    y = 1.0 * p.dpi
    p.text(L, y, inv["vendor_name"], serif_b(17), dark)
    p.text(R, y, "INVOICE", serif_b(26), mid, anchor="rs")
    y += p.pt(22)
    vendor_lines = inv["vendor_address"] + ["Phone (512) 555-0148",
                                            "accounts@tallgrass-circuit.example",
                                            "Tax ID (EIN): " + inv["vendor_tax_id"]]
    meta = [("INVOICE #", inv["invoice_number"]),
            ("DATE", date_long_us(inv["invoice_date"])),
            ("DUE DATE", date_long_us(inv["due_date"])),
            ("P.O. #", inv["po_number"]),
            ("TERMS", inv["payment_terms"])]
    mx = R - 2.9 * p.dpi
    for i in range(max(len(vendor_lines), len(meta))):
        yy = y + i * lead
        if i < len(vendor_lines):
            p.text(L, yy, vendor_lines[i], reg(10.5), ink)
        if i < len(meta):
            p.text(mx, yy, meta[i][0], bold(10), mid)
            p.text(R, yy, meta[i][1], reg(10.5), ink, anchor="rs")
    y += len(vendor_lines) * lead + p.pt(22)

    # bill to / ship to
    sx = L + 3.5 * p.dpi
    p.rect((L, y - p.pt(13), R, y + p.pt(5)), fill=(232, 238, 233))
    p.text(L + p.pt(6), y, "BILL TO", bold(10), dark)
    p.text(sx, y, "SHIP TO", bold(10), dark)
    bill = [inv["customer_name"], "Attn: Melissa Carter, Office Manager"] + inv["customer_address"]
    ship = ["Harborview Dental - Heights Clinic", "918 Yale Street", "Houston, TX 77008"]
    y += lead + p.pt(4)
    for i in range(len(bill)):
        if i < len(bill):
            p.text(L + p.pt(6), y + i * lead, bill[i], bold(10.5) if i == 0 else reg(10.5), ink)
        if i < len(ship):
            p.text(sx, y + i * lead, ship[i], reg(10.5), ink)
    y += len(bill) * lead + p.pt(24)

    # table: QTY | DESCRIPTION | UNIT PRICE | AMOUNT
    cq, cd, cu, ca = L + p.pt(34), L + p.pt(48), R - 1.35 * p.dpi, R - p.pt(6)
    p.rect((L, y - p.pt(14), R, y + p.pt(6)), fill=dark)
    white = (255, 255, 255)
    p.text(cq, y, "QTY", bold(10), white, anchor="rs")
    p.text(cd, y, "DESCRIPTION", bold(10), white)
    p.text(cu, y, "UNIT PRICE", bold(10), white, anchor="rs")
    p.text(ca, y, "AMOUNT", bold(10), white, anchor="rs")
    row_h = p.pt(21)
    y += row_h
    for i, it in enumerate(inv["items"]):
        if i % 2 == 1:
            p.rect((L, y - p.pt(14), R, y + p.pt(7)), fill=(244, 246, 244))
        p.text(cq, y, fmt_qty_us(it["quantity"]), reg(10.5), ink, anchor="rs")
        p.text(cd, y, it["description"], reg(10.5), ink)
        p.text(cu, y, fmt_us(it["unit_price"]), reg(10.5), ink, anchor="rs")
        p.text(ca, y, fmt_us(it["amount"]), reg(10.5), ink, anchor="rs")
        y += row_h
    p.hline(L, R, y - p.pt(12), 2, dark)
    y += p.pt(14)

    # totals (right) and notes (left), on shared rows
    tl = R - 2.6 * p.dpi
    rows = [("Subtotal", "$" + fmt_us(inv["subtotal"]), False),
            (f"Sales Tax ({inv['tax_rate']}%)", "$" + fmt_us(inv["tax"]), False),
            ("TOTAL DUE", "$" + fmt_us(inv["total"]), True)]
    notes = ["Thank you for your business!", "All amounts in U.S. dollars.",
             "Make checks payable to " + inv["vendor_name"]]
    for i, (k, v, strong) in enumerate(rows):
        yy = y + i * p.pt(18)
        f = bold(12) if strong else reg(10.5)
        if strong:
            p.rect((tl - p.pt(6), yy - p.pt(15), R, yy + p.pt(6)), fill=(232, 238, 233))
        p.text(tl, yy, k, f, ink)
        p.text(ca, yy, v, f, ink, anchor="rs")
        p.text(L, yy, notes[i], reg(10), mid)
    y += 3 * p.pt(18) + p.pt(30)

    p.text(L, y, "Questions about this invoice? Contact accounts@tallgrass-circuit.example "
                 "or (512) 555-0148.", reg(9.5), mid)
    y += lead
    p.text(L, y, "Past-due balances accrue a late fee of 1.5% per month.", reg(9.5), mid)
    return p, inv


# ---------------------------------------------------------------- invoice-003

def invoice_003():
    """'Scanned' A4 grayscale, 200 dpi. UK vendor, GBP, ISO dates."""
    inv = {
        "invoice_number": "INV-25-0412",
        "invoice_date": dt.date(2025, 2, 27),
        "due_date": dt.date(2025, 3, 29),
        "vendor_name": "Pennine Print & Packaging Ltd",
        "vendor_address": ["Unit 7, Calder Bank Works", "Wakefield Road", "Halifax HX3 9QE",
                           "United Kingdom"],
        "vendor_tax_id": "GB 318 4620 57",
        "customer_name": "The Larder at Millbrook Ltd",
        "customer_address": ["14 Orchard Street", "Bath BA1 1QT"],
        "po_number": "LML-7731",
        "currency": "GBP",
        "payment_terms": "30 days from date of invoice",
        "vat_rate": "20",
    }
    inv["items"] = build_items([
        ("Kraft gift boxes, printed 1 colour", "500", "1.18"),
        ("Greaseproof wraps, custom print", "2000", "0.065"),
        ("Carrier bags, twisted handle, large", "750", "0.42"),
        ("Artwork setup and proofing", "1", "65.00"),
        ("Carriage", "1", "18.50"),
    ])
    inv["subtotal"], inv["tax"], inv["total"] = totals(inv["items"], inv["vat_rate"])

    p = Page(210 / 25.4, 297 / 25.4, 200, "L")
    reg = lambda s: p.font("DejaVuSerif", s)
    bold = lambda s: p.font("DejaVuSerif-Bold", s)
    mono = lambda s: p.font("DejaVuSansMono", s)
    L, R = p.mm(22), p.W - p.mm(22)
    lead = p.pt(14.5)

    y = p.mm(30)
    p.text(p.W / 2, y, inv["vendor_name"].upper(), bold(18), anchor="ms")
    y += p.pt(18)
    p.text(p.W / 2, y, ", ".join(inv["vendor_address"][:3]), reg(10), anchor="ms")
    y += lead
    p.text(p.W / 2, y, "Tel: 0113 496 0731   Email: sales@pennineprint.example", reg(10), anchor="ms")
    y += lead
    p.text(p.W / 2, y, "VAT Reg. No.: " + inv["vendor_tax_id"], reg(10), anchor="ms")
    y += p.pt(10)
    p.hline(L, R, y, 3)
    y += p.pt(30)
    p.text(p.W / 2, y, "INVOICE", bold(16), anchor="ms")
    y += p.pt(30)

    # invoice-to (left) and details (right)
    rx, rv = p.W - p.mm(85), p.W - p.mm(48)
    left = ["Invoice to:", inv["customer_name"], "Accounts Department"] + inv["customer_address"]
    right = [("Invoice No:", inv["invoice_number"]), ("Date:", date_iso(inv["invoice_date"])),
             ("Due Date:", date_iso(inv["due_date"])), ("Your Order No:", inv["po_number"]),
             ("Account:", "MILLB01")]
    for i in range(max(len(left), len(right))):
        yy = y + i * lead
        if i < len(left):
            p.text(L, yy, left[i], bold(10) if i < 2 else reg(10))
        if i < len(right):
            p.text(rx, yy, right[i][0], bold(10))
            p.text(rv, yy, right[i][1], reg(10))
    y += max(len(left), len(right)) * lead + p.pt(24)

    # table with ruled box
    # column separators (x) and right edges of the numeric columns
    s1, s2, s3, s4 = L + p.mm(80), L + p.mm(98), L + p.mm(124), L + p.mm(142)
    cd, cq, cu, cv, cn = L + p.pt(6), s2 - p.mm(3), s3 - p.mm(3), s4 - p.mm(3), R - p.mm(3)
    top = y - p.pt(16)
    p.text(cd, y, "Description", bold(10))
    p.text(cq, y, "Qty", bold(10), anchor="rs")
    p.text(cu, y, "Unit Price", bold(10), anchor="rs")
    p.text(cv, y, "VAT %", bold(10), anchor="rs")
    p.text(cn, y, "Net (£)", bold(10), anchor="rs")
    p.hline(L, R, y + p.pt(7), 2)
    y += p.pt(26)
    for it in inv["items"]:
        up = it["unit_price"]
        p.text(cd, y, it["description"], reg(10))
        p.text(cq, y, fmt_qty_us(it["quantity"]), mono(10), anchor="rs")
        p.text(cu, y, fmt_us(up, 3 if up != money(up) else 2), mono(10), anchor="rs")
        p.text(cv, y, inv["vat_rate"], mono(10), anchor="rs")
        p.text(cn, y, fmt_us(it["amount"]), mono(10), anchor="rs")
        y += p.pt(20)
    bottom = y - p.pt(8)
    p.rect((L, top, R, bottom), outline=(0, 0, 0), width=2)
    for x in (s1, s2, s3, s4):
        p.check_vline(x, top, bottom)
        p.draw.line([(round(x), round(top)), (round(x), round(bottom))], fill=0, width=1)
    y = bottom + p.pt(26)

    tl = R - p.mm(75)
    for k, v, b in [("Net total", "£" + fmt_us(inv["subtotal"]), False),
                    (f"VAT @ {inv['vat_rate']}%", "£" + fmt_us(inv["tax"]), False),
                    ("Invoice total", "£" + fmt_us(inv["total"]), True)]:
        p.text(tl, y, k, bold(11) if b else reg(10))
        p.text(cn, y, v, bold(11) if b else mono(10), anchor="rs")
        y += p.pt(18)
    y += p.pt(26)

    for s, f in [("Terms: " + inv["payment_terms"], bold(10)),
                 ("Payment by BACS to: Pennine Print & Packaging Ltd", reg(10)),
                 ("Sort code 40-47-84   Account no. 31926819", reg(10)),
                 ("Please quote the invoice number as your payment reference.", reg(10)),
                 ("Goods remain our property until paid for in full.", reg(10))]:
        p.text(L, y, s, f)
        y += lead

    p.text(p.W / 2, p.H - p.mm(20),
           "Registered in England & Wales No. 08341927. Registered office as above.",
           reg(8), anchor="ms")
    return p, inv


def scan_effect(img, seed):
    """Make a clean grayscale page look scanned: rotation, paper, shadow, blur, speckles."""
    rng = np.random.default_rng(seed)
    W, H = img.size
    angle = float(rng.uniform(0.45, 0.8)) * (1 if rng.random() < 0.5 else -1)
    img = img.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=255)

    a = np.asarray(img, dtype=np.float32) / 255.0           # 1 = white paper, 0 = ink
    # keep speckles off the text (a dot on "65.00" could make it unreadable for anyone)
    clear = np.asarray(img.filter(ImageFilter.MinFilter(25))) > 250
    # paper tone with smooth low-frequency mottling
    coarse = rng.normal(0.0, 1.0, (9, 7)).astype(np.float32)
    coarse_img = Image.fromarray(((coarse + 4) * 32).clip(0, 255).astype(np.uint8))
    mottle = (np.asarray(coarse_img.resize((W, H), Image.BICUBIC), dtype=np.float32) / 32 - 4)
    paper = 236 + 4 * mottle
    # scanner shadow along the left edge and a faint one at the top
    xs = np.arange(W, dtype=np.float32)
    ys = np.arange(H, dtype=np.float32)
    paper = paper - 55 * np.exp(-xs / 28.0)[None, :] - 25 * np.exp(-ys / 20.0)[:, None]
    ink = 38.0                                               # toner is not pure black
    out = ink + (paper - ink) * a
    # dust and toner speckles: a few dark 1-3 px spots, many faint single pixels.
    # (Dense per-pixel grain would push the PNG past 1 MB, so the noise is sparse.)
    n = int(W * H * 0.00012)
    sx, sy = rng.integers(0, W, n), rng.integers(0, H, n)
    sr = rng.integers(1, 3, n)
    shade = rng.integers(60, 170, n).astype(np.float32)
    for x, y, r, s in zip(sx, sy, sr, shade):
        if clear[y, x]:
            out[max(0, y - r + 1):y + r, max(0, x - r + 1):x + r] = s
    n = int(W * H * 0.0006)
    py, px = rng.integers(0, H, n), rng.integers(0, W, n)
    keep = clear[py, px]
    out[py[keep], px[keep]] = rng.integers(150, 215, n)[keep]
    img = Image.fromarray(out.clip(0, 255).round().astype(np.uint8), "L")
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    return img, angle


# ---------------------------------------------------------------- main

def write_sample(outdir, name, img, inv, save):
    path = os.path.join(outdir, name)
    save(img, path)
    with open(os.path.join(outdir, name.rsplit(".", 1)[0] + ".expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected_json(inv), f, ensure_ascii=False, indent=2)
        f.write("\n")
    return path


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "samples")
    os.makedirs(outdir, exist_ok=True)

    jobs = [
        ("invoice-001.png", invoice_001, None,
         lambda im, p: im.save(p, "PNG", dpi=(200, 200), optimize=True)),
        ("invoice-002.jpg", invoice_002, None,
         lambda im, p: im.save(p, "JPEG", dpi=(150, 150), quality=85, optimize=True)),
        ("invoice-003.png", invoice_003, SEED + 3,
         lambda im, p: im.save(p, "PNG", dpi=(200, 200), optimize=True)),
    ]
    for name, make, scan_seed, save in jobs:
        page, inv = make()
        page.check_overlaps()
        img = page.img
        note = ""
        if scan_seed is not None:
            img, angle = scan_effect(img, scan_seed)
            note = f", rotated {angle:+.2f} deg"
        path = write_sample(outdir, name, img, inv, save)
        with open(os.path.join(outdir, name.rsplit(".", 1)[0] + ".gt.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(page.gt_lines()) + "\n")
        print(f"{path}: {img.size[0]}x{img.size[1]} {img.mode}, "
              f"{os.path.getsize(path)} bytes{note}; total {inv['currency']} {inv['total']}")


if __name__ == "__main__":
    main()
