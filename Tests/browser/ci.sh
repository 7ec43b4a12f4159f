#!/usr/bin/env bash
# The browser suite for CI, to be called after `swift build`: installs Chromium (Debian) and
# websocket-client (PyPI), then drives the web pages of .build/debug/helpdesk in headless Chromium.
#
#   HELPDESK_BROWSER_TESTS=0      skip the suite (prints that it is off, exits 0)
#   HELPDESK_BIN=PATH             the binary to test (default .build/debug/helpdesk)
#   HELPDESK_BROWSER_ARTIFACTS=DIR screenshots and logs (default .build-browser/artifacts)
#   PYTHON=PATH                   the Python 3.11+ to use (default python3)
#
# Exit status: the suite's (0 passed, 1 a step failed, 2 bad setup), or non-zero when an install fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "${HELPDESK_BROWSER_TESTS:-1}" = "0" ]; then
  echo "browser suite: off (HELPDESK_BROWSER_TESTS=0)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
PYTHON="${PYTHON:-python3}"

# Chromium and a font from Debian. Quick when they are already there; on a machine whose package
# lists are missing or stale the first try fails, so refresh them once and try again.
packages=(chromium fonts-dejavu-core)
if ! $SUDO apt-get install -y --no-install-recommends "${packages[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${packages[@]}"
fi

# websocket-client from PyPI. A Python managed by pyenv or a venv takes a plain `pip install`;
# Debian's own python3 refuses that (PEP 668, "externally-managed-environment") and needs
# --break-system-packages (pip ≥ 23.0.1 on Debian 12 knows the flag).
if ! "$PYTHON" -c "import websocket" 2>/dev/null; then
  pip=("$PYTHON" -m pip install --disable-pip-version-check --no-input --quiet websocket-client)
  if ! "${pip[@]}"; then
    echo "browser suite: plain pip install refused; retrying with --break-system-packages"
    "${pip[@]}" --break-system-packages
  fi
fi

echo "browser suite: $("$PYTHON" --version 2>&1), $(chromium --version 2>/dev/null || chromium-browser --version 2>/dev/null)"
# The suite bounds itself (20 s a step, under 3 minutes in all); `timeout` is the last resort.
exec timeout -k 10 240 "$PYTHON" Tests/browser/run_browser_suite.py "${HELPDESK_BIN:-.build/debug/helpdesk}"
