#!/usr/bin/env bash
# skiff generate --schema schemas/invoice.json on N synthetic invoice prompts (default 50),
# sampling with a different seed each; checks every output with `skiff schema validate`.
# Usage: tools/generate_invoices.sh [N] [SKIFF]   (SKIFF defaults to .build/release/skiff)
set -euo pipefail
n=${1:-50}
skiff=${2:-.build/release/skiff}
vendors=("ACME GmbH" "Blue Harbor Ltd" "Café Müller" "Northwind Traders Inc." "Tanaka Shoji K.K." "O'Brien & Sons" "Zephyr Solar SA" "Kowalski Sp. z o.o." "Rio Verde Ltda" "Fjord Fisk AS")
items=("consulting hours" "steel bolts" "coffee beans" "web hosting" "office chairs")
tmp=$(mktemp -d)
valid=0
forced=0
tokens=0
for ((i = 0; i < n; i++)); do
  v=${vendors[$((i % 10))]}
  it=${items[$(((i / 10) % 5))]}
  prompt="Extract the invoice as JSON.
INVOICE $((1000 + i))   Date: 2025-0$((1 + i % 9))-1$((i % 10))
From: $v, $((10 + i)) Main Street
To: Customer $i
$((1 + i % 7)) x $it
TOTAL EUR $((100 + i * 37)).$(printf %02d $((i % 100)))"
  if "$skiff" generate --schema schemas/invoice.json --chat "$prompt" --seed "$i" --max-tokens 400 --json \
      >"$tmp/$i.out" 2>"$tmp/$i.err"; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); open(sys.argv[2],"w").write(d["text"]); print(len(d["tokens"]), d["forced_tokens"])' \
      "$tmp/$i.out" "$tmp/$i.json" >"$tmp/$i.counts"
    read -r t f <"$tmp/$i.counts"
    tokens=$((tokens + t))
    forced=$((forced + f))
    if "$skiff" schema validate schemas/invoice.json "$tmp/$i.json" --assert-format >/dev/null; then
      valid=$((valid + 1))
    else
      echo "prompt $i: INVALID $(cat "$tmp/$i.json")"
    fi
  else
    echo "prompt $i: FAILED $(tail -1 "$tmp/$i.err")"
  fi
done
echo "generate_invoices: $valid/$n outputs valid against schemas/invoice.json; $tokens tokens, $forced forced"
rm -rf "$tmp"
