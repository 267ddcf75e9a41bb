#!/usr/bin/env bash
# Create .venv and install a requirements file into it (default requirements.txt, the runtime;
# requirements-dev.txt adds the checks', tests' and benchmarks' tools), installing Debian's
# python3-venv first if it is missing. Marks it done with .venv/.installed or .installed-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
REQUIREMENTS=${1:-requirements.txt}
case "$REQUIREMENTS" in
  requirements-dev.txt) MARK=.venv/.installed-dev ;;
  *) MARK=.venv/.installed ;;
esac

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    if [ "$(id -u)" -ne 0 ]; then
      echo "venv: '$PYTHON -m venv' failed; run: sudo apt-get install -y python3-venv" >&2
      exit 1
    fi
    echo "venv: installing python3-venv"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }
    "$PYTHON" -m venv .venv
  fi
fi
echo "venv: installing $REQUIREMENTS"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
touch "$MARK"
