#!/usr/bin/env bash
# Install the headless browser that tests/test_web_browser.py drives: Debian's chromium and chromium-driver.
# Idempotent and quiet: does nothing when both are installed, else one `apt-get update` and one install;
# apt's output goes to a log that is shown only when the install fails. Prints one line on what it did.
# Runs apt-get as root, or through sudo when it is not root. Without apt-get (not Debian) or without
# root and sudo it installs nothing and exits 0: the browser test then skips (fails only when CI=true).
set -euo pipefail
packages=(chromium chromium-driver)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-browser: ${packages[*]} already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: no apt-get here; install Chromium and its chromedriver yourself (the browser test skips without them)"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
  [ -t 0 ] || as_root=(sudo -n)  # no terminal to ask for a password on
  as_root+=(env)
else
  echo "install-browser: not root and no sudo; run 'apt-get install ${missing[*]}' as root (the browser test skips without them)"
  exit 0
fi

log=$(mktemp "${TMPDIR:-/tmp}/install-browser.XXXXXX.log")
if ! { "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get update -qq \
       && "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "install-browser: installing ${missing[*]} failed; the whole log is in $log" >&2
  exit 1
fi
rm -f "$log"
echo "install-browser: installed ${missing[*]} ($(chromium --version 2>/dev/null | grep -o 'Chromium [0-9.]*' || echo chromium))"
