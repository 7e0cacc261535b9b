#!/usr/bin/env bash
# Refreshes crates/chervil-dashboard/web/vendor/ from the npm registry: the built files of
# the charting library the dashboard embeds (uPlot, MIT), at the version web/package.json
# pins. Run it when changing that version; the files are committed, so building Chervil
# needs neither npm nor a network.
set -euo pipefail
web="$(cd "$(dirname "$0")/../crates/chervil-dashboard/web" && pwd)"
version=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['dependencies']['uplot'])" "$web/package.json")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null && tar xzf uplot-*.tgz)
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$web/vendor/"
cp "$tmp/package/LICENSE" "$web/vendor/uPlot.LICENSE"
echo "uPlot $version → $web/vendor/"
