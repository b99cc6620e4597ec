#!/bin/sh
# vendor.sh installs the console's pinned browser libraries (package.json,
# package-lock.json) with npm ci in a temporary directory and copies their
# built files and licences into ../static/vendor. The result is committed,
# so that building xsoc needs no Node; CI runs this again and checks that
# nothing changed.
#   go generate ./internal/web     (or: sh internal/web/frontend/vendor.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../static/vendor"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$tmp/"
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
m="$tmp/node_modules"
rm -rf "$out"
mkdir -p "$out/licenses"
cp "$m/chart.js/dist/chart.umd.min.js" "$out/"
cp "$m/d3-array/dist/d3-array.min.js" "$out/"
cp "$m/d3-geo/dist/d3-geo.min.js" "$out/"
cp "$m/topojson-client/dist/topojson-client.min.js" "$out/"
# Natural Earth 1:50m country borders (public domain), as TopoJSON.
cp "$m/world-atlas/countries-50m.json" "$out/"
cp "$m/chart.js/LICENSE.md" "$out/licenses/chart.js.LICENSE.md"
cp "$m/@kurkle/color/LICENSE.md" "$out/licenses/kurkle-color.LICENSE.md"
cp "$m/d3-array/LICENSE" "$out/licenses/d3-array.LICENSE"
cp "$m/d3-geo/LICENSE" "$out/licenses/d3-geo.LICENSE"
cp "$m/topojson-client/LICENSE" "$out/licenses/topojson-client.LICENSE"
cp "$m/world-atlas/LICENSE" "$out/licenses/world-atlas.LICENSE"
for p in chart.js @kurkle/color d3-array d3-geo topojson-client world-atlas; do
	printf '%s %s\n' "$p" "$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$m/$p/package.json")"
done > "$out/VERSIONS"
