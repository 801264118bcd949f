#!/usr/bin/env bash
# scripts/browser.sh — make sure a Chromium is available for the playground's
# browser test (api/playground_browser_test.go).
#
# Usage: scripts/browser.sh
#
# A browser already found (CHROME_PATH, or chromium, chromium-browser,
# google-chrome on PATH) is left alone. Otherwise Debian's chromium package is
# installed with apt-get when apt-get is usable (as root, or through sudo
# without a password). Installing is best effort: this script never fails, so
# `make test` goes on and the browser test skips, saying why.
#
# Set WARDEN_NO_BROWSER_INSTALL=1 to never install anything.
set -uo pipefail

log() { printf 'browser: %s\n' "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

found_browser() {
	if [ -n "${CHROME_PATH:-}" ] && [ -x "$CHROME_PATH" ]; then echo "$CHROME_PATH"; return 0; fi
	local b
	for b in chromium chromium-browser google-chrome; do
		if have "$b"; then command -v "$b"; return 0; fi
	done
	return 1
}

if path="$(found_browser)"; then
	log "using $path"
	exit 0
fi
if [ "${WARDEN_NO_BROWSER_INSTALL:-}" = 1 ]; then
	log "no Chromium found and WARDEN_NO_BROWSER_INSTALL=1: the playground browser test will skip"
	exit 0
fi
if ! have apt-get; then
	log "no Chromium found and no apt-get to install it: the playground browser test will skip"
	exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
	as_root=(env)
elif have sudo && sudo -n true 2>/dev/null; then
	as_root=(sudo -n env)
else
	log "no Chromium found and no root or password-less sudo to install it: the playground browser test will skip"
	exit 0
fi

# apt-get's output goes to a file, shown only when the installation fails.
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
apt() { "${as_root[@]}" DEBIAN_FRONTEND=noninteractive apt-get -qq -y "$@" >>"$out" 2>&1; }

log "no Chromium found: installing Debian's chromium with apt-get (once; a minute or two)"
start=$SECONDS
if ! apt install --no-install-recommends chromium; then
	log "apt-get install failed; running apt-get update and retrying"
	apt update && apt install --no-install-recommends chromium
fi
if path="$(found_browser)"; then
	log "installed $path in $((SECONDS - start))s"
else
	tail -n 20 "$out" >&2
	log "could not install chromium: the playground browser test will skip"
fi
exit 0
