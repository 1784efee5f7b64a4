#!/usr/bin/env bash
# Copies the JSON-Schema-Test-Suite's draft4, draft6, draft7 and draft2019-09 tests (required
# and optional) and its remotes into Tests/SkiffSchemaTests/Fixtures/test-suite-drafts/.
# ../shared/data holds only draft2020-12; the suite (MIT) ships inside the PyPI sdist of
# jsonschema, fetched here with pip. Deterministic for a given jsonschema version.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${1:-4.26.0}"
dest="$root/Tests/SkiffSchemaTests/Fixtures/test-suite-drafts"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-binary :all: --no-deps --dest "$tmp" "jsonschema==$version"
tar xzf "$tmp"/jsonschema-"$version".tar.gz -C "$tmp"
suite="$tmp/jsonschema-$version/json"
rm -rf "$dest"
mkdir -p "$dest/tests"
for draft in draft4 draft6 draft7 draft2019-09; do
  cp -r "$suite/tests/$draft" "$dest/tests/$draft"
done
cp -r "$suite/remotes" "$dest/remotes"
cp "$suite/LICENSE" "$dest/LICENSE"
echo "JSON-Schema-Test-Suite as shipped in the PyPI sdist of jsonschema $version (MIT, see LICENSE)." > "$dest/SOURCE"
echo "copied to $dest"
