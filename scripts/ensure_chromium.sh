#!/usr/bin/env bash
# Install Debian's chromium (used for PDF proposals and the dashboard's browser test) and
# poppler-utils (pdftotext, pdfinfo: the proposal checklist reads the PDF with them) when
# missing. pma_lab never downloads a browser of its own (no `playwright install`).
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${need[*]} (apt-get) ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ -x /usr/bin/chromium ] && echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
else
  echo "warning: ${need[*]} missing; install with 'sudo apt-get install ${need[*]}'" \
       "(PDF proposals, the proposal checklist and the browser test need them; with" \
       "CI=true those tests fail)" >&2
fi
