#!/usr/bin/env bash
# Install Chromium from the OS packages when it is missing (idempotent, silent when present):
# the browser tests (tests/browser) drive /usr/bin/chromium through Playwright, which downloads
# no browser of its own here.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG=.run/log/apt.log

[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "browser: /usr/bin/chromium is missing; run: sudo apt-get install -y chromium" >&2
  exit 1
fi
mkdir -p "$(dirname "$LOG")"
echo "browser: installing chromium (apt-get, log: $LOG)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >>"$LOG" 2>&1 \
  || { apt-get update -q && apt-get install -y -q chromium; } >>"$LOG" 2>&1 \
  || { tail -n 25 "$LOG" >&2; echo "browser: apt-get install chromium failed" >&2; exit 1; }
