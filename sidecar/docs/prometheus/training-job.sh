#!/usr/bin/env bash
# Per-node set-up of a multi-node training job measured by PNAV Lab: one sidecar labelled with the
# job id, and a Prometheus agent scraping it on loopback (training-job.yml). Run it once per node
# before training, e.g. with SLURM:
#
#   srun --ntasks-per-node=1 --overlap ./training-job.sh &
#   srun python train.py          # %%pnav / pnav_lab.track_emissions inside, or nothing at all:
#                                 # the node counters are enough for the job total
set -euo pipefail

JOB="${PNAV_JOB:-train-${SLURM_JOB_ID:?set PNAV_JOB or run under SLURM}}"
NODE="$(hostname -s)"
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${XDG_RUNTIME_DIR:-/tmp}/pnav-${JOB}"
PORT="${PNAV_PORT:-9463}"
mkdir -p -m 700 "$WORK"

# The sidecar: every series labelled job=<job>; /metrics readable without the token, loopback only.
pnav sidecar --port "$PORT" --metrics-public --label "job=${JOB}" \
  --runtime-dir "$WORK/runtime" --data-dir "$WORK/data" --country "${PNAV_COUNTRY:-ESP}" &
SIDECAR=$!

# The agent's target: this node's sidecar.
cp "$HERE/training-job.yml" "$WORK/"
printf '[{"targets": ["127.0.0.1:%s"], "labels": {"node": "%s", "rank": "%s"}}]\n' \
  "$PORT" "$NODE" "${SLURM_NODEID:-0}" > "$WORK/targets.json"
# Agent mode is `--agent` in Prometheus 3 and `--enable-feature=agent` in 2.x (Debian 12 ships 2.42).
if prometheus --help 2>&1 | grep -q -- '--agent '; then AGENT_MODE=--agent; else AGENT_MODE=--enable-feature=agent; fi
prometheus "$AGENT_MODE" --config.file="$WORK/training-job.yml" --storage.agent.path="$WORK/agent" \
  --web.listen-address=127.0.0.1:0 &
AGENT=$!

trap 'kill "$AGENT" "$SIDECAR" 2>/dev/null; wait' EXIT INT TERM
wait
