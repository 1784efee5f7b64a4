/// One self-contained HTML page (inline CSS, JS and SVG; no network) for a scored
/// document or folder: totals and the profile's definition, a sortable summary table,
/// a histogram of per-document CER, per-character-class accuracy, the confusion list,
/// and each document's ground truth and output side by side with aligned differences
/// highlighted (hovering one side lights up the other).
public struct HTMLReport: Sendable {
    public var title: String

    public init(title: String = "Skiff score report") {
        self.title = title
    }

    public func render(_ folder: FolderResult) -> String {
        var html = ""
        html.reserveCapacity(64 * 1024 + folder.documents.reduce(0) { $0 + 12 * ($1.reference.utf8.count + $1.hypothesis.utf8.count) })
        let chars = folder.microCharacters
        let words = folder.microWords
        html += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        html += "<title>\(escape(title))</title><style>\(Self.css)</style></head><body>\n"
        html += "<header><h1>\(escape(title))</h1>"
        html += "<div class=\"totals\">"
        html += metric("CER", chars.rate, "\(chars.errors) errors / \(chars.referenceUnits) characters")
        html += metric("WER", words.rate, "\(words.errors) errors / \(words.referenceUnits) words")
        if folder.documents.count > 1 {
            html += metric("macro CER", folder.macroCER, "mean of \(folder.documents.count) documents")
            html += metric("macro WER", folder.macroWER, "mean of \(folder.documents.count) documents")
        }
        html += "</div>"
        html += "<p class=\"definition\"><b>Profile <code>\(escape(folder.profile.rawValue))</code>"
        html += folder.orderInsensitive ? ", order-insensitive" : ""
        html += ".</b> \(escape(folder.profile.definition))"
        if folder.orderInsensitive {
            html += " Output lines were first reordered to follow the ground-truth lines they best match."
        }
        html += " Characters: \(chars.hits) hits, \(chars.substitutions) substitutions, \(chars.deletions) deletions (missing from the output), \(chars.insertions) insertions (extra in the output).</p>"
        if !folder.missing.isEmpty {
            html += "<p class=\"warn\">No output for \(folder.missing.count) document(s), scored as all deletions: \(escape(folder.missing.joined(separator: ", ")))</p>"
        }
        if !folder.extra.isEmpty {
            html += "<p class=\"warn\">Outputs without ground truth (not scored): \(escape(folder.extra.joined(separator: ", ")))</p>"
        }
        html += "</header>\n<section class=\"overview\">"
        if folder.documents.count > 1 { html += histogram(folder.documents.map(\.score.cer)) }
        html += classTable(folder.documents)
        html += confusionTable(folder.documents, limit: 25)
        html += "</section>\n"
        if folder.documents.count > 1 { html += summaryTable(folder.documents) }
        for (index, document) in folder.documents.enumerated() {
            html += documentSection(document, index: index, open: index < 3 || folder.documents.count == 1)
        }
        html += "<script>\(Self.script)</script></body></html>\n"
        return html
    }

    // MARK: - Pieces

    private func metric(_ name: String, _ value: Double, _ detail: String) -> String {
        "<div class=\"metric\"><span class=\"name\">\(name)</span><span class=\"value\">\(percent(value))</span><span class=\"detail\">\(escape(detail))</span></div>"
    }

    private func percent(_ value: Double) -> String {
        if value.isInfinite { return "∞" }
        if value.isNaN { return "n/a" }
        return format(value * 100, decimals: 2) + "%"
    }

    private func format(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : "∞" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (abs(value) * scale).rounded()
        let whole = Int(rounded / scale)
        var fraction = String(Int(rounded.truncatingRemainder(dividingBy: scale)))
        while fraction.count < decimals { fraction = "0" + fraction }
        return (value < 0 && rounded > 0 ? "-" : "") + "\(whole)" + (decimals > 0 ? "." + fraction : "")
    }

    /// Per-document CER in 5-point bins up to 50%, then one bin for the rest, as inline SVG.
    private func histogram(_ rates: [Double]) -> String {
        let binCount = 11
        var bins = [Int](repeating: 0, count: binCount)
        for r in rates { bins[min(binCount - 1, r.isFinite ? Int(r * 20) : binCount - 1)] += 1 }
        let tallest = max(1, bins.max() ?? 1)
        let (w, h, left, bottom) = (440.0, 200.0, 34.0, 34.0)
        let barWidth = (w - left - 10) / Double(binCount)
        var svg = "<figure class=\"card\"><figcaption>Documents by CER</figcaption>"
        svg += "<svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" width=\"\(Int(w))\" height=\"\(Int(h))\" role=\"img\" aria-label=\"Histogram of per-document CER\">"
        let plotHeight = h - bottom - 10
        for tick in 0...4 {
            let y = 10 + plotHeight - plotHeight * Double(tick) / 4
            svg += "<line x1=\"\(left)\" x2=\"\(w - 6)\" y1=\"\(y)\" y2=\"\(y)\" class=\"grid\"/>"
            svg += "<text x=\"\(left - 4)\" y=\"\(y + 4)\" text-anchor=\"end\">\(format(Double(tallest) * Double(tick) / 4, decimals: tallest < 4 ? 1 : 0))</text>"
        }
        for (i, count) in bins.enumerated() {
            let barHeight = plotHeight * Double(count) / Double(tallest)
            let x = left + Double(i) * barWidth
            let label = i == binCount - 1 ? "≥50% (incl. ∞)" : "\(i * 5)–\((i + 1) * 5)%"
            svg += "<rect x=\"\(x + 2)\" y=\"\(10 + plotHeight - barHeight)\" width=\"\(barWidth - 4)\" height=\"\(barHeight)\" class=\"bar\"><title>\(label): \(count)</title></rect>"
            if count > 0 {
                svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(6 + plotHeight - barHeight)\" text-anchor=\"middle\" class=\"count\">\(count)</text>"
            }
            if i % 2 == 0 || i == binCount - 1 {
                svg += "<text x=\"\(x + barWidth / 2)\" y=\"\(h - bottom + 16)\" text-anchor=\"middle\">\(i == binCount - 1 ? "≥50" : String(i * 5))</text>"
            }
        }
        svg += "<text x=\"\((left + w) / 2)\" y=\"\(h - 4)\" text-anchor=\"middle\">CER (%)</text></svg></figure>"
        return svg
    }

    static func characterClass(_ unit: String) -> String {
        guard let scalar = unit.unicodeScalars.first else { return "other" }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return "letters"
        case .decimalNumber, .letterNumber, .otherNumber: return "digits"
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return "punctuation"
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol: return "symbols"
        case .spaceSeparator, .lineSeparator, .paragraphSeparator, .control: return "spaces & line breaks"
        default: return "other"
        }
    }

    /// Accuracy per class of reference character: hits / reference characters of that class.
    private func classTable(_ documents: [DocumentResult]) -> String {
        let order = ["letters", "digits", "punctuation", "symbols", "spaces & line breaks", "other"]
        var total: [String: Int] = [:]
        var hits: [String: Int] = [:]
        for d in documents {
            guard let a = d.alignment else { continue }
            Confusions.walk(a.characters, a.characterOperations) { op, r, _ in
                guard let r else { return }
                let c = Self.characterClass(r)
                total[c, default: 0] += 1
                if op == .hit { hits[c, default: 0] += 1 }
            }
        }
        var html = "<figure class=\"card\"><figcaption>Accuracy by character class</figcaption><table class=\"small\"><thead><tr><th>class</th><th>reference</th><th>correct</th><th>accuracy</th></tr></thead><tbody>"
        for c in order where total[c, default: 0] > 0 {
            let t = total[c, default: 0]
            let h = hits[c, default: 0]
            let accuracy = Double(h) / Double(t)
            html += "<tr><td>\(escape(c))</td><td class=\"n\">\(t)</td><td class=\"n\">\(h)</td><td class=\"n\"><span class=\"meter\"><span style=\"width:\(format(accuracy * 100, decimals: 1))%\"></span></span>\(percent(accuracy))</td></tr>"
        }
        return html + "</tbody></table></figure>"
    }

    private func confusionTable(_ documents: [DocumentResult], limit: Int) -> String {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for d in documents {
            guard let a = d.alignment else { continue }
            for c in Confusions.isriRuns(a.characters, a.characterOperations) {
                if counts[c.key] == nil { order.append(c.key) }
                counts[c.key, default: 0] += c.errors
            }
        }
        let sorted = order.enumerated().sorted { (counts[$0.element, default: 0], -$0.offset) > (counts[$1.element, default: 0], -$1.offset) }
        var html = "<figure class=\"card\"><figcaption>Most frequent confusions <code>{correct}-{generated}</code></figcaption><div class=\"scroll\"><table class=\"small confusions\"><thead><tr><th>errors</th><th>confusion</th></tr></thead><tbody>"
        for (_, key) in sorted.prefix(limit) {
            html += "<tr><td class=\"n\">\(counts[key, default: 0])</td><td><code title=\"\(visible(key))\">\(visible(shortened(key)))</code></td></tr>"
        }
        if sorted.isEmpty { html += "<tr><td colspan=\"2\">none</td></tr>" }
        return html + "</tbody></table></div></figure>"
    }

    private func summaryTable(_ documents: [DocumentResult]) -> String {
        var html = "<section class=\"summary\"><h2>Documents <small>(click a heading to sort)</small></h2><div class=\"scroll\"><table class=\"sortable\"><thead><tr>"
        html += "<th data-type=\"text\">document</th><th data-type=\"num\">CER</th><th data-type=\"num\">WER</th><th data-type=\"num\">characters</th><th data-type=\"num\">char errors</th><th data-type=\"num\">substitutions</th><th data-type=\"num\">deletions</th><th data-type=\"num\">insertions</th><th data-type=\"num\">words</th><th data-type=\"num\">word errors</th>"
        html += "</tr></thead><tbody>"
        for (i, d) in documents.enumerated() {
            let c = d.score.characters
            let w = d.score.words
            html += "<tr><td><a href=\"#doc-\(i)\" data-open=\"doc-\(i)\">\(escape(d.name))</a>\(d.outputPath == nil ? " <span class=\"warn\">(no output)</span>" : "")</td>"
            html += "<td class=\"n\" data-v=\"\(sortValue(c.rate))\">\(percent(c.rate))</td><td class=\"n\" data-v=\"\(sortValue(w.rate))\">\(percent(w.rate))</td>"
            for v in [c.referenceUnits, c.errors, c.substitutions, c.deletions, c.insertions, w.referenceUnits, w.errors] {
                html += "<td class=\"n\" data-v=\"\(v)\">\(v)</td>"
            }
            html += "</tr>"
        }
        return html + "</tbody></table></div></section>\n"
    }

    private func sortValue(_ v: Double) -> String { v.isFinite ? "\(v)" : "1e308" }

    private func documentSection(_ d: DocumentResult, index: Int, open: Bool) -> String {
        let c = d.score.characters
        var html = "<details class=\"doc\" id=\"doc-\(index)\"\(open ? " open" : "")><summary><b>\(escape(d.name))</b> — CER \(percent(c.rate)), WER \(percent(d.score.words.rate)) · \(c.substitutions) substitutions, \(c.deletions) deletions, \(c.insertions) insertions</summary>"
        html += "<p class=\"paths\">ground truth: <code>\(escape(d.groundTruthPath))</code> · output: <code>\(escape(d.outputPath ?? "(none)"))</code></p>"
        guard let a = d.alignment else { return html + "</details>\n" }
        var gt = ""
        var ocr = ""
        var group = -1
        var inGroup = false
        var gtRun = ""
        var ocrRun = ""
        var kinds = Set<EditOperation>()
        func closeGroup() {
            guard inGroup else { return }
            let kind = kinds == [.insertion] ? "ins" : kinds == [.deletion] ? "del" : "sub"
            let id = "d\(index)-\(group)"
            let gtTitle = "\(visible(gtRun)) → \(visible(ocrRun))"
            gt += "<span class=\"e \(kind)\" data-k=\"\(id)\" title=\"\(gtTitle)\">\(gtRun.isEmpty ? "<span class=\"gap\">∅</span>" : markup(gtRun))</span>"
            ocr += "<span class=\"e \(kind)\" data-k=\"\(id)\" title=\"\(gtTitle)\">\(ocrRun.isEmpty ? "<span class=\"gap\">∅</span>" : markup(ocrRun))</span>"
            gtRun = ""
            ocrRun = ""
            kinds = []
            inGroup = false
        }
        Confusions.walk(a.characters, a.characterOperations) { op, r, h in
            if op == .hit {
                closeGroup()
                gt += escape(r ?? "")
                ocr += escape(h ?? "")
                return
            }
            if !inGroup {
                group += 1
                inGroup = true
            }
            kinds.insert(op)
            if let r { gtRun += r }
            if let h { ocrRun += h }
        }
        closeGroup()
        html += "<div class=\"pair\"><div class=\"side\"><h3>Ground truth</h3><pre>\(gt)</pre></div><div class=\"side\"><h3>Output</h3><pre>\(ocr)</pre></div></div>"
        let confusions = Confusions.isriRuns(a.characters, a.characterOperations).prefix(12)
        if !confusions.isEmpty {
            html += "<p class=\"doc-confusions\">Confusions: " + confusions.map { "<code title=\"\(visible($0.key))\">\(visible(shortened($0.key, limit: 32)))</code>×\($0.errors)" }.joined(separator: " ") + "</p>"
        }
        return html + "</details>\n"
    }

    /// Error text inside a highlighted span: line breaks and spaces shown, but the break kept.
    private func markup(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "\n", "\r\n": out += "<span class=\"ws\">⏎</span>\n"
            case " ": out += "<span class=\"ws\">␣</span>"
            case "\t": out += "<span class=\"ws\">⇥</span>"
            default: out += escape(String(c))
            }
        }
        return out
    }

    /// Long confusions (whole lines in a different order) cut to fit; the full text is in the tooltip.
    private func shortened(_ key: String, limit: Int = 48) -> String {
        key.count <= limit ? key : String(key.prefix(limit - 1)) + "…"
    }

    private func visible(_ text: String) -> String {
        escape(text).replacingScalar("\n", with: "⏎").replacingScalar(" ", with: "␣")
    }

    func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static let css = """
    :root{--sub:#fde2a7;--sub-b:#d99a00;--del:#fbc4c4;--del-b:#c62828;--ins:#c8ecc9;--ins-b:#2e7d32;--ink:#1d2330;--mute:#5b6474;--line:#dde2ea}
    *{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);margin:0;padding:18px 26px;background:#f6f7f9}
    h1{font-size:22px;margin:0 0 10px}h2{font-size:17px;margin:18px 0 8px}h2 small{font-weight:normal;color:var(--mute);font-size:12px}h3{font-size:13px;margin:0 0 6px;color:var(--mute);text-transform:uppercase;letter-spacing:.04em}
    .totals{display:flex;gap:14px;flex-wrap:wrap}.metric{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:150px;display:flex;flex-direction:column}
    .metric .name{color:var(--mute);font-size:12px}.metric .value{font-size:24px;font-weight:600}.metric .detail{color:var(--mute);font-size:12px}
    .definition{max-width:1200px;color:#333;font-size:13px}.warn{color:#a33}
    .overview{display:grid;grid-template-columns:auto auto minmax(0,1fr);gap:16px;align-items:start}@media(max-width:1100px){.overview{grid-template-columns:1fr}}.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:0}
    figcaption{font-weight:600;margin-bottom:6px}svg text{font-size:11px;fill:var(--mute)}svg .count{fill:var(--ink)}svg .grid{stroke:#eceff3}svg .bar{fill:#4a78c2}
    table{border-collapse:collapse;background:#fff}th,td{padding:3px 10px;border-bottom:1px solid var(--line);text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
    table.small{font-size:13px}.confusions code{white-space:pre-wrap;word-break:break-all}.card .scroll{max-height:232px;overflow:auto}
    .meter{display:inline-block;width:60px;height:8px;background:#eee;border-radius:4px;margin-right:6px;vertical-align:middle;overflow:hidden}.meter span{display:block;height:100%;background:#4a9c5d}
    .summary .scroll{max-height:300px;overflow:auto;border:1px solid var(--line);border-radius:8px;display:inline-block}
    table.sortable th{cursor:pointer;position:sticky;top:0;background:#eef1f6;user-select:none}table.sortable th.asc::after{content:" ▲"}table.sortable th.desc::after{content:" ▼"}
    details.doc{background:#fff;border:1px solid var(--line);border-radius:8px;margin:12px 0;padding:8px 14px}details.doc summary{cursor:pointer}
    .paths{color:var(--mute);font-size:12px;margin:4px 0 8px}.pair{display:grid;grid-template-columns:1fr 1fr;gap:16px}
    .side pre{margin:0;padding:10px;background:#fbfbfc;border:1px solid var(--line);border-radius:6px;white-space:pre-wrap;word-break:break-word;font:13px/1.55 ui-monospace,"DejaVu Sans Mono",Menlo,monospace}
    .e{border-radius:3px;padding:0 1px;border-bottom:2px solid transparent}.e.sub{background:var(--sub);border-color:var(--sub-b)}.e.del{background:var(--del);border-color:var(--del-b)}.e.ins{background:var(--ins);border-color:var(--ins-b)}
    .e.hot{outline:2px solid #1a4fd6;background:#cfe0ff}.gap{color:#999}.ws{color:#8a6d00;opacity:.8}
    .legend span{margin-right:10px}.doc-confusions{font-size:12px;color:var(--mute)}.doc-confusions code{background:#f0f2f5;padding:0 3px;margin-right:2px;white-space:pre}
    """

    static let script = """
    document.addEventListener('mouseover',function(e){var t=e.target.closest('.e');document.querySelectorAll('.e.hot').forEach(function(x){x.classList.remove('hot')});if(!t)return;document.querySelectorAll('.e[data-k="'+t.dataset.k+'"]').forEach(function(x){x.classList.add('hot')})});
    document.querySelectorAll('a[data-open]').forEach(function(a){a.addEventListener('click',function(){var d=document.getElementById(a.dataset.open);if(d)d.open=true})});
    document.querySelectorAll('table.sortable').forEach(function(table){table.querySelectorAll('th').forEach(function(th,col){th.addEventListener('click',function(){var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=!th.classList.contains('asc');table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc')});th.classList.add(asc?'asc':'desc');var num=th.dataset.type==='num';rows.sort(function(a,b){var x=a.cells[col],y=b.cells[col],r=num?parseFloat(x.dataset.v)-parseFloat(y.dataset.v):x.textContent.localeCompare(y.textContent);return asc?r:-r});rows.forEach(function(r){body.appendChild(r)})})})});
    """
}

extension String {
    func replacingScalar(_ scalar: Unicode.Scalar, with replacement: String) -> String {
        var scalars = Array(unicodeScalars)
        TextNormalizer.replace(&scalars, [scalar], Array(replacement.unicodeScalars))
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }
}
