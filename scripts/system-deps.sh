#!/usr/bin/env bash
# System packages the web console's tests and the PDF report need, from Debian:
#
#   chromium              headless browser the console tests drive (through Playwright,
#                         with executable_path; `playwright install` is never run)
#   fonts-noto-cjk        Chinese glyphs for the browser
#   fonts-wqy-microhei    a TrueType CJK font the PDF report embeds (reportlab cannot
#                         embed Noto CJK's CFF outlines)
#   fonts-dejavu-core     the report's monospace font (hashes, keys, the checkpoint)
#   poppler-utils         pdftotext / pdffonts, which the report tests read the PDF with
#
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
# Usage: scripts/system-deps.sh        (make test runs it)
#        scripts/system-deps.sh fonts  (make run: only the fonts the PDF report embeds)
set -euo pipefail

missing=()
if [ "${1:-}" != fonts ]; then
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto/NotoSansCJK-* >/dev/null 2>&1 \
    || missing+=(fonts-noto-cjk)
  { command -v pdftotext >/dev/null 2>&1 && command -v pdffonts >/dev/null 2>&1; } \
    || missing+=(poppler-utils)
fi
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf ] || missing+=(fonts-dejavu-core)

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "system-deps.sh: installing ${missing[*]}" >&2
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "system-deps.sh: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=()
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system-deps.sh: done" >&2
