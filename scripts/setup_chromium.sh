#!/usr/bin/env bash
# Install Debian's chromium for the browser test of `distill report`
# (tests/slow/test_report_browser.py), when it is missing. Needs root or passwordless sudo and
# apt-get; without them it prints a one-line note and the browser test skips. No browser
# download of its own: the distribution's package only.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup_chromium: no apt-get here; install chromium yourself or the browser test skips" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "setup_chromium: chromium is missing and installing it needs root: sudo apt-get install chromium (else the browser test skips)" >&2
  exit 0
fi
echo "setup_chromium: installing chromium with apt-get" >&2
# A failed install (no package mirror reachable) must not fail the suite: the browser test then
# skips, naming this script.
if ! { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
       "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; then
  echo "setup_chromium: apt-get could not install chromium; the browser test will skip" >&2
fi
