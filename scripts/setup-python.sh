#!/usr/bin/env bash
# Create (idempotently) the Python venv used for TRL parity checks and benchmarks (bench/*.py):
# trl (pinned to the version our reference data comes from), torch, tensorboard, peft (LoRA parity), optionally jupyterlab.
#
# usage: scripts/setup-python.sh [--jupyter | --jupyter-only] [--venv DIR] [--python PY] [--cpu-torch] [--check] [-h]
#   --venv DIR     venv location (default: $DPO_VENV, else <repo>/.venv)
#   --python PY    interpreter used to create the venv (default: $DPO_PYTHON, else python3); needs Python >= 3.10
#   --jupyter      also install jupyterlab
#   --jupyter-only only JupyterLab (with nbconvert), no torch/TRL/TensorBoard: a light venv for opening the
#                  notebooks (the kernel itself is Node.js: tslab, registered by `npx dpo-ts kernel install`)
#   --cpu-torch    when installing from PyPI, take torch from the PyTorch CPU index (avoids multi-GB CUDA wheels)
#   --check        only check; exit 0 if everything is importable, 1 otherwise (never installs)
# env: DPO_TRL_SPEC (default "trl==1.13.*"), DPO_TORCH_INDEX (default https://download.pytorch.org/whl/cpu)
#
# Package index: pip's own configuration is used (pip config list + PIP_* env). If no index-url is configured but
# an extra-index-url points at a local file:// wheelhouse (an offline machine), that local index is passed as
# --index-url, because the default index (pypi.org) is unreachable there and pip would otherwise retry it slowly.
# Elsewhere this is a plain `pip install` from PyPI.
#
# Fast when already set up: a single import check. All messages go to stderr; the last line on stdout is the
# absolute path of the venv's python, so `PY=$(scripts/setup-python.sh)` works.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DPO_VENV:-$REPO/.venv}"
PY="${DPO_PYTHON:-python3}"
TRL_SPEC="${DPO_TRL_SPEC:-trl==1.13.*}"
TORCH_INDEX="${DPO_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
JUPYTER=0
JUPYTER_ONLY=0
CPU_TORCH=0
CHECK_ONLY=0

log() { echo "[setup-python] $*" >&2; }
die() { echo "[setup-python] error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --jupyter) JUPYTER=1 ;;
    --jupyter-only) JUPYTER=1; JUPYTER_ONLY=1 ;;
    --cpu-torch) CPU_TORCH=1 ;;
    --check) CHECK_ONLY=1 ;;
    --venv) [ $# -ge 2 ] || die "--venv needs a directory"; VENV="$2"; shift ;;
    --venv=*) VENV="${1#*=}" ;;
    --python) [ $# -ge 2 ] || die "--python needs an interpreter"; PY="$2"; shift ;;
    --python=*) PY="${1#*=}" ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
VPY="$VENV/bin/python"

# The import check: trl must be the pinned series, the rest just importable.
trl_prefix="${TRL_SPEC#trl==}"; trl_prefix="${trl_prefix%\*}"   # "1.13." for trl==1.13.*
[ "$trl_prefix" = "$TRL_SPEC" ] && trl_prefix=""                  # not of the form trl==X: accept any version
check_installed() {
  # metadata + module lookup only (no heavy imports): a few ms when everything is there
  local mods="trl torch transformers tensorboard accelerate datasets peft"
  [ "$JUPYTER" = 1 ] && mods="$mods jupyterlab nbconvert"
  if [ "$JUPYTER_ONLY" = 1 ]; then mods="jupyterlab nbconvert"; want_trl=""; else want_trl="$trl_prefix"; fi
  "$VPY" - "$want_trl" $mods <<'EOF' 2>/dev/null
import importlib.metadata as md, importlib.util as iu, sys
want_trl, mods = sys.argv[1], sys.argv[2:]
if any(iu.find_spec(m) is None for m in mods):
    sys.exit(2)
if want_trl and not md.version("trl").startswith(want_trl):
    sys.exit(3)
EOF
}
versions() {
  local names='("trl", "torch", "transformers")'
  [ "$JUPYTER_ONLY" = 1 ] && names='("jupyterlab", "nbconvert")'
  "$VPY" -c "import importlib.metadata as md; print(' '.join(p + ' ' + md.version(p) for p in $names))"
}

# JupyterLab 4's notebook debugger (@jupyterlab/debugger-extension:notebooks) asks a kernel without debugger support
# for its modules after every executed cell and throws "No active debugger session" into the browser console (an
# uncaught error, once per cell); the course's kernel (tslab) has no debugger, so this venv's JupyterLab runs without
# that plugin and the variables panel that needs it. Any kernel without a debugger shows the same; Python notebooks
# opened in this venv's JupyterLab lose the debugger toggle (`jupyter labextension enable` both ids to restore it).
LAB_DEBUGGER_PLUGINS=(@jupyterlab/debugger-extension:notebooks @jupyterlab/debugger-extension:variables)
lab_config() {
  [ "$JUPYTER" = 1 ] || return 0
  local page_config="$VENV/etc/jupyter/labconfig/page_config.json"
  local id missing=0
  for id in "${LAB_DEBUGGER_PLUGINS[@]}"; do grep -q "\"$id\": true" "$page_config" 2>/dev/null || missing=1; done
  [ "$missing" = 0 ] && return 0
  log "disabling JupyterLab's notebook debugger in $page_config (the course's kernel has none)"
  "$VENV/bin/jupyter" labextension disable --level=sys_prefix "${LAB_DEBUGGER_PLUGINS[@]}" >/dev/null 2>&1 \
    || die "'jupyter labextension disable --level=sys_prefix ${LAB_DEBUGGER_PLUGINS[*]}' failed in $VENV"
}

if [ -x "$VPY" ] && check_installed; then
  lab_config
  log "venv $VENV is ready ($(versions))"
  echo "$VPY"
  exit 0
fi
if [ "$CHECK_ONLY" = 1 ]; then
  log "venv $VENV is missing or incomplete"
  exit 1
fi

# 1. the venv
if [ ! -x "$VPY" ]; then
  command -v "$PY" >/dev/null 2>&1 || die "'$PY' not found; install Python >= 3.10 or pass --python"
  "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$("$PY" -V 2>&1) is too old: trl needs Python >= 3.10 (pass --python)"
  log "creating venv $VENV with $("$PY" -V 2>&1)"
  "$PY" -m venv "$VENV" || die "'$PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
"$VPY" -m pip --version >/dev/null 2>&1 || die "$VPY has no pip; remove $VENV and rerun"

# 2. which index: pip's configuration, with a local file:// wheelhouse promoted to --index-url
index_args=()
configured_index=""
extras=()
while IFS= read -r line; do
  key="${line%%=*}"; val="${line#*=}"; val="${val#\'}"; val="${val%\'}"; val="${val#\"}"; val="${val%\"}"
  case "$key" in
    *.index-url|*.index_url) configured_index="$val" ;;
    *.extra-index-url|*.extra_index_url) for u in $val; do extras+=("$u"); done ;;
  esac
done < <("$VPY" -m pip config list 2>/dev/null || true)
[ -n "${PIP_INDEX_URL:-}" ] && configured_index="$PIP_INDEX_URL"
if [ -n "${PIP_EXTRA_INDEX_URL:-}" ]; then extras=(); for u in $PIP_EXTRA_INDEX_URL; do extras+=("$u"); done; fi

local_index=""
other_extras=()
for u in ${extras[@]+"${extras[@]}"}; do
  case "$u" in
    file://*) if [ -d "${u#file://}" ]; then
                if [ -z "$local_index" ]; then local_index="$u"; else other_extras+=("$u"); fi
              else log "ignoring configured index $u (no such directory)"; fi ;;
    *) other_extras+=("$u") ;;
  esac
done
offline=0
if [ -n "$configured_index" ]; then
  log "using pip's configured index-url $configured_index"
  case "$configured_index" in file://*) offline=1 ;; esac
elif [ -n "$local_index" ]; then
  offline=1
  # only the index-url is overridden; the configured extra-index-urls stay in effect as they are
  index_args+=(--index-url "$local_index")
  log "no index-url configured; using the local wheelhouse $local_index as --index-url"
else
  log "using pip's default index (PyPI)"
fi

# pip prints one 'Location ... is ignored' warning per project missing from a file:// simple index: drop them
pip_install() {
  "$VPY" -m pip install --disable-pip-version-check ${index_args[@]+"${index_args[@]}"} "$@" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) >&2
}

# 3. packages
pkgs=("$TRL_SPEC" torch tensorboard peft)
[ "$JUPYTER" = 1 ] && pkgs+=(jupyterlab)
[ "$JUPYTER_ONLY" = 1 ] && pkgs=(jupyterlab)
if [ "$JUPYTER_ONLY" = 0 ] && [ "$CPU_TORCH" = 1 ] && [ "$offline" = 0 ] && ! "$VPY" -c 'import torch' 2>/dev/null; then
  log "installing CPU torch from $TORCH_INDEX"
  "$VPY" -m pip install --disable-pip-version-check --index-url "$TORCH_INDEX" torch >&2
fi
log "installing ${pkgs[*]}"
pip_install "${pkgs[@]}"

check_installed || die "packages installed but the check failed (trl version must match $TRL_SPEC)"
if [ "$JUPYTER_ONLY" = 1 ]; then
  "$VPY" -m jupyter lab --version >/dev/null || die "installed, but 'jupyter lab --version' fails in $VPY"
else
  "$VPY" -c 'import trl, torch, tensorboard' >&2 || die "installed, but 'import trl, torch, tensorboard' fails in $VPY"
fi
lab_config
log "done: $(versions)"
echo "$VPY"
