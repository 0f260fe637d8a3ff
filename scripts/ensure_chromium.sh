#!/usr/bin/env bash
# Install Debian's chromium (used for PDF proposals and the dashboard's browser test) when
# it is missing. pma_lab never downloads a browser of its own (no `playwright install`).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium (apt-get) ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
else
  echo "warning: /usr/bin/chromium is missing; install it with 'sudo apt-get install chromium'" \
       "(PDF proposals and the browser test need it; with CI=true the browser test fails)" >&2
fi
