#!/usr/bin/env bash
# Re-vendors the page terminal (xterm.js and its fit add-on) from npm into
# templates/static/vendor/xterm: the built files are committed, so the
# portal serves them itself (no CDN; the CSP allows only 'self').
set -euo pipefail
XTERM=${XTERM:-6.0.0} FIT=${FIT:-0.11.0}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts "@xterm/xterm@$XTERM" "@xterm/addon-fit@$FIT" >/dev/null
out=$here/templates/static/vendor/xterm
mkdir -p "$out"
cp node_modules/@xterm/xterm/lib/xterm.js node_modules/@xterm/xterm/css/xterm.css \
  node_modules/@xterm/addon-fit/lib/addon-fit.js "$out/"
cp node_modules/@xterm/xterm/LICENSE "$out/LICENSE"
# The source maps are not vendored; their references would only 404.
sed -i 's|^//# sourceMappingURL=.*||' "$out"/*.js
echo "vendored @xterm/xterm@$XTERM and @xterm/addon-fit@$FIT into $out"
