#!/usr/bin/env bash
# Create .venv and install labkit with everything it needs (torch, medmnist, captum,
# ipywidgets, voila, nbgrader, playwright). Usage: bash scripts/setup.sh [--with-browser]
#   --with-browser  also install Debian's chromium (root, apt) for the Voila browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [[ "${1:-}" == "--with-browser" ]] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium not found and apt-get unavailable: install Chromium for the browser test" >&2
  fi
fi
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned, so nothing else pulls another build.
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/python -c "import labkit, torch, medmnist, captum, ipywidgets, voila; print('labkit', labkit.__version__, '| torch', torch.__version__)"
