#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The evidence pack in a real browser: headless Chromium opens index.html from a file:// URL
# (no network), a page script checks from the DOM that every figure loaded (naturalWidth > 0)
# and lists every link, the links are resolved on disk (none may be broken), the engine banner
# is in the DOM, and a screenshot is kept as a test artefact (meson-logs/report_browser.png
# under the build folder, or $KVTIER_ARTIFACTS). Without chromium the test is skipped with the
# reason, except in CI (CI set), where it fails: scripts/install-deps installs Debian's chromium.
set -euo pipefail
: "${KVTIER:?}" "${KVTIER_FIXTURES:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kvtier-e2e-browser.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
CHROME=""
for c in chromium chromium-browser google-chrome; do
  command -v "$c" >/dev/null 2>&1 && { CHROME=$(command -v "$c"); break; }
done
if [ -z "$CHROME" ]; then
  [ -z "${CI:-}" ] || fail "chromium is not installed (scripts/install-deps installs it)"
  echo "SKIP: chromium not installed (run scripts/install-deps)"
  exit 77
fi
command -v gnuplot >/dev/null 2>&1 || { [ -z "${CI:-}" ] || fail "gnuplot missing"; echo "SKIP: gnuplot not installed"; exit 77; }

cp -r "$KVTIER_FIXTURES/pack/results" "$WORK/results"
PACK="$WORK/evidence"
"$KVTIER" report --results "$WORK/results" --out "$PACK" >"$WORK/out" 2>&1 ||
  fail "report: $(cat "$WORK/out")"

# the page under test plus a check script appended (the pack itself carries no script)
CHECK="$PACK/.browser-check.html"
cp "$PACK/index.html" "$CHECK"
cat >>"$CHECK" <<'EOF'
<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var r = {
    images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                .map(function (i) { return i.getAttribute('src'); }),
    links: Array.prototype.map.call(document.querySelectorAll('a[href]'),
                                    function (a) { return a.getAttribute('href'); }),
    banner: (document.getElementById('engine-banner') || {}).textContent || ''
  };
  var pre = document.createElement('pre');
  pre.id = 'kvtier-check';
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
});
</script>
EOF
FLAGS=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run
  --user-data-dir="$WORK/profile" --allow-file-access-from-files --virtual-time-budget=10000)
timeout 120 "$CHROME" "${FLAGS[@]}" --dump-dom "file://$CHECK" >"$WORK/dom.html" \
  2>"$WORK/chrome.err" || fail "chromium --dump-dom: $(tail -5 "$WORK/chrome.err")"
python3 - "$WORK/dom.html" "$PACK" <<'PY' || fail "DOM checks"
import html, json, os, re, sys
from urllib.parse import unquote, urlparse
dom = open(sys.argv[1]).read()
pack = sys.argv[2]
m = re.search(r'<pre id="kvtier-check">(.*?)</pre>', dom, re.S)
assert m, "the page script did not run"
r = json.loads(html.unescape(m.group(1)))
assert r["images"] >= 4, "only %d figures in the page" % r["images"]
assert not r["broken"], "figures that did not load: %s" % r["broken"]
assert "EMULATED ENGINE" in r["banner"], r["banner"]
bad = []
for href in r["links"]:
    u = urlparse(href)
    if u.scheme in ("http", "https"):
        bad.append(href + " (network link in a self-contained pack)")
        continue
    if href.startswith("#"):
        assert re.search(r'id="%s"' % re.escape(href[1:]), dom), href
        continue
    p = os.path.normpath(os.path.join(pack, unquote(u.path)))
    if not os.path.exists(p):
        bad.append(href)
assert not bad, "broken links: %s" % bad[:10]
print("ok - %d figures loaded, %d links resolve" % (r["images"], len(r["links"])))
PY

ART=${KVTIER_ARTIFACTS:-}
if [ -z "$ART" ]; then
  ART=$PWD
  [ -d "$PWD/meson-logs" ] && ART="$PWD/meson-logs"
fi
mkdir -p "$ART"
timeout 120 "$CHROME" "${FLAGS[@]}" --window-size=1280,2400 --hide-scrollbars \
  --screenshot="$ART/report_browser.png" "file://$PACK/index.html" >/dev/null 2>"$WORK/shot.err" ||
  fail "chromium --screenshot: $(tail -5 "$WORK/shot.err")"
[ -s "$ART/report_browser.png" ] || fail "no screenshot"
echo "ok - screenshot kept: $ART/report_browser.png"
