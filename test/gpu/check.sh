#!/usr/bin/env bash
# GPU check for PNAV Lab on a machine with one NVIDIA GPU (H100/H200), in under 8 minutes.
#
# Writes <out>/gpu-check.json and <out>/gpu-check.md (also printed), comparing:
#   - the sidecar's GPU energy with NVML's total-energy counter read directly, around the same windows
#     of matmul load (0.05 / 0.2 / 1 / 10 / 60 s): within 1 % expected for windows >= 1 s;
#   - the counter's update period (back-to-back reads under load);
#   - ~2 s of queued matmuls closed without and with the synchronise %%pnav runs at close;
#   - the nvidia-smi fallback (the sidecar's own source) on the same windows, and the stream's line gaps;
#   - CUDA_VISIBLE_DEVICES as index / UUID / UUID prefix: the GPU counted once;
#   - how long `nvidia-smi --query-compute-apps` takes.
# It only reads: it never changes MIG mode, clocks, power limits or any other GPU setting.
#
# Usage: test/gpu/check.sh [--out DIR] [--python PY] [--wheels DIR] [--dry]
#   --out DIR     where the JSON and the table go (default test/gpu/results/<date>)
#   --python PY   an interpreter that already has torch with CUDA (skips the throw-away venv)
#   --wheels DIR  install torch from these wheels (pip --no-index --find-links), for machines without PyPI
#   --dry         no GPU needed: the tests' fake libnvidia-ml and fake nvidia-smi stand in (checks the plumbing)
# Exit status: 0 when windows >= 1 s agree within 1 % and the GPU is counted once, 1 otherwise, 2 on setup errors.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$REPO/test/gpu/results/$(date +%Y%m%d-%H%M%S)"
PYTHON=""
WHEELS=""
DRY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift ;;
    --python) PYTHON=$2; shift ;;
    --wheels) WHEELS=$2; shift ;;
    --dry) DRY=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

fail() { echo "check.sh: $*" >&2; exit 2; }
say() { echo "check.sh: $*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pnav-gpu-check.XXXXXX")
SIDECAR_PID=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ -n "$SIDECAR_PID" ]; then kill "$SIDECAR_PID" 2>/dev/null || true; wait "$SIDECAR_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v node >/dev/null || fail "node (20+) is needed for the sidecar"
[ -f "$REPO/sidecar/dist/cli.js" ] || { say "building the sidecar (npm run build -w sidecar)"; (cd "$REPO" && npm run build -w sidecar >/dev/null) || fail "sidecar build failed"; }

SMI=nvidia-smi
if [ "$DRY" = 1 ]; then
  command -v cc >/dev/null || fail "--dry needs a C compiler (cc) to build the fake libnvidia-ml"
  mkdir -p "$WORK/lib" "$WORK/nvml"
  cc -shared -fPIC -o "$WORK/lib/libnvidia-ml.so.1" "$REPO/sidecar/test-support/fake-nvml.c"
  echo 1000000 > "$WORK/nvml/energy0"
  SMI="$REPO/sidecar/test-support/nvidia-smi"
  export LD_LIBRARY_PATH="$WORK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export FAKE_NVML_DIR="$WORK/nvml" FAKE_NVML_COUNT=1
  export FAKE_SMI_GPUS="0, GPU-fake-0, Fake GPU 0" FAKE_SMI_APPS_FILE="$WORK/apps.csv" FAKE_SMI_POWER_DIR="$WORK/smi-power"
  mkdir -p "$FAKE_SMI_POWER_DIR"
  : > "$WORK/apps.csv"
  PYTHON=${PYTHON:-python3}
  say "DRY RUN: fake GPU (libnvidia-ml from sidecar/test-support/fake-nvml.c), nothing is measured on hardware"
else
  command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this check needs an NVIDIA GPU and its driver (or --dry)"
  COUNT=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
  [ "$COUNT" -ge 1 ] || fail "nvidia-smi lists no GPU"
  [ -z "${CUDA_VISIBLE_DEVICES:-}" ] || fail "unset CUDA_VISIBLE_DEVICES: the check sets it per run itself and measures GPU 0"
  say "GPU 0: $(nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader -i 0) ($COUNT GPU(s) listed; only GPU 0 is loaded)"
  if [ -z "$PYTHON" ]; then
    say "creating a throw-away venv with torch in $WORK/venv (a few minutes: the CUDA wheels are large)"
    python3 -m venv "$WORK/venv" || fail "python3 -m venv failed (install python3-venv)"
    PIP=("$WORK/venv/bin/pip" install --quiet --disable-pip-version-check)
    if [ -n "$WHEELS" ]; then PIP+=(--no-index --find-links "$WHEELS"); fi
    "${PIP[@]}" torch || fail "pip could not install torch (no network to PyPI? pass --wheels DIR with torch wheels, or --python PY of an environment that has torch with CUDA)"
    PYTHON="$WORK/venv/bin/python"
  fi
  "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    || fail "$PYTHON has no torch with CUDA (torch.cuda.is_available() is False)"
fi

say "starting a private sidecar (port 0, data in $WORK)"
node "$REPO/sidecar/dist/cli.js" sidecar --port 0 --runtime-dir "$WORK/runtime" --data-dir "$WORK/data" \
  --nvidia-smi "$SMI" --sample-interval 1000 >"$WORK/sidecar.log" 2>&1 &
SIDECAR_PID=$!
for _ in $(seq 1 300); do
  [ -s "$WORK/runtime/pnav-sidecar.json" ] && break
  kill -0 "$SIDECAR_PID" 2>/dev/null || { cat "$WORK/sidecar.log" >&2; fail "the sidecar exited"; }
  sleep 0.1
done
[ -s "$WORK/runtime/pnav-sidecar.json" ] || fail "the sidecar did not start within 30 s ($WORK/sidecar.log)"

say "measuring (about 3 minutes on a GPU; the 60 s window is the longest)"
DRY_ARGS=()
[ "$DRY" = 1 ] && DRY_ARGS=(--dry)
set +e
"$PYTHON" "$REPO/test/gpu/check.py" --runtime-file "$WORK/runtime/pnav-sidecar.json" --out "$OUT" \
  --nvidia-smi "$SMI" "${DRY_ARGS[@]}"
STATUS=$?
set -e
[ -f "$OUT/gpu-check.json" ] || { tail -20 "$WORK/sidecar.log" >&2; fail "check.py wrote no result"; }
say "results: $OUT/gpu-check.json and $OUT/gpu-check.md (exit $STATUS)"
exit "$STATUS"
