#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright drives it; no browser is ever downloaded by a test tool).
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[[ "$(id -u)" == "0" ]] || SUDO="sudo"
$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
/usr/bin/chromium --version
