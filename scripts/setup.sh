#!/usr/bin/env bash
# Set up a fresh machine for labkit and its whole test suite: creates .venv with labkit and
# everything it needs (torch, medmnist, captum, ipywidgets, Voilà, JupyterLab 4, JupyterHub,
# jupyterhub-idle-culler, nbgrader, pytest, playwright), configurable-http-proxy from npm
# into .venv/node, and Debian's chromium for the browser tests (apt, as root).
# Usage: bash scripts/setup.sh          (no browser is ever downloaded by playwright)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if ((${#need_apt[@]})); then
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: ${need_apt[*]} missing and apt-get (as root) unavailable: install them for the browser" \
         "and hub tests, or deselect those with -m 'not browser'" >&2
  fi
fi
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned, so nothing else pulls another build.
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[dev]"
# JupyterHub's proxy (a node program) into a project-local prefix; the hub test puts it on PATH.
if command -v npm >/dev/null 2>&1; then
  npm install -s --no-audit --no-fund --prefix .venv/node configurable-http-proxy@5 >/dev/null
fi
.venv/bin/python -c "import labkit, torch, medmnist, captum, ipywidgets, voila, jupyterlab, jupyterhub, playwright; \
print('labkit', labkit.__version__, '| torch', torch.__version__, '| jupyterlab', jupyterlab.__version__, \
'| jupyterhub', jupyterhub.__version__)"
