"""Bench worker for PNAV Lab, run with the repository's .venv (pnav_lab installed) against a real sidecar.

    python worker_pnav.py overhead --cells N --warmup W --out DIR
    python worker_pnav.py short --durations 0.1,1 --repeats R --tdp W --out DIR
    python worker_pnav.py window --tdp W --out DIR     (READY, waits 'go', STARTED, waits 'stop')

Cells run in a real IPython InteractiveShell with `%load_ext pnav_lab`, exactly as typed in a
notebook. The sidecar is found through PNAV_SIDECAR_URL / PNAV_SIDECAR_TOKEN (set by
compare-peers.py, which started it with --cpu-tdp = the shared TDP). Figures are read back from
the sidecar's API, which is what the panel and the CSV show.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import urllib.request
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common


def api(path: str) -> dict:
    req = urllib.request.Request(
        os.environ['PNAV_SIDECAR_URL'].rstrip('/') + path,
        headers={'Authorization': f'Bearer {os.environ["PNAV_SIDECAR_TOKEN"]}'},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def last_run() -> dict:
    runs = api('/api/v1/runs?limit=1')['runs']
    if not runs:
        raise SystemExit('the sidecar has no run: the %%pnav cell was not measured')
    return runs[0]


def run_count() -> int:
    return len(api('/api/v1/runs?limit=10000')['runs'])


def make_shell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic('load_ext', 'pnav_lab')
    return shell


class CellFailed(SystemExit):
    pass


def run_cell(shell, source: str) -> None:
    """Runs a cell; any pnav warning or error means the figure would be wrong, so the bench stops."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        result = shell.run_cell(source, store_history=False)
    if not result.success:
        raise CellFailed(f'cell failed: {result.error_before_exec or result.error_in_exec}')
    pnav_warnings = [str(w.message) for w in caught if 'pnav' in str(w.message)]
    if pnav_warnings:
        raise CellFailed(f'pnav warned, the cell was not measured properly: {pnav_warnings[0]}')


def energy_fields(run: dict) -> dict:
    energy = run['energy']
    return {
        'durationS': run['durationS'],
        'cpuJ': energy['cpu']['energyJ'],
        'ramJ': energy['ram']['energyJ'],
        'totalJ': run['energyJ'],
        'cpuPowerW': energy['cpu']['powerW'],
        'ramPowerW': energy['ram']['powerW'],
        'cpuMethod': energy['cpu']['method'],
        'ramMethod': energy['ram']['method'],
    }


def cmd_overhead(args) -> None:
    shell = make_shell()
    runs_before = run_count()
    out = {}
    for name, magic in (('%%pnav --quiet', '%%pnav --quiet'), ('%%pnav --quiet --no-save', '%%pnav --quiet --no-save')):
        base, meas, first = common.timed_pairs(
            lambda: run_cell(shell, 'pass'),
            lambda magic=magic: run_cell(shell, f'{magic}\npass'),
            args.cells,
            args.warmup,
        )
        out[name] = common.overhead_summary(base, meas, first)
    measured = run_count() - runs_before
    expected = 2 * (args.cells + args.warmup)
    if measured != expected:
        raise SystemExit(f'expected {expected} runs in the sidecar, found {measured}: some cells were not measured')
    common.result({'tool': 'pnav-lab', 'overhead': out, 'runsRecorded': measured})


def cmd_short(args) -> None:
    shell = make_shell()
    shell.user_ns['__pnav_bench_busy'] = common.busy
    rows = []
    for d in [float(x) for x in args.durations.split(',')]:
        reps = []
        for _ in range(args.repeats):
            before = common.machine_cpu_times()
            run_cell(shell, f'%%pnav --quiet --no-save\n__pnav_bench_busy({d})')
            u = common.utilisation(before, common.machine_cpu_times())
            fields = energy_fields(last_run())
            fields['u'] = u
            fields['cubicReferenceCpuJ'] = common.cubic_power_w(args.tdp, u) * fields['durationS']
            reps.append(fields)
        numeric = [k for k, v in reps[0].items() if isinstance(v, (int, float))]
        medians = {f'median_{k}': statistics.median(r[k] for r in reps) for k in numeric}
        rows.append({'cellS': d, 'variant': '%%pnav', 'repeats': reps, **medians})
    common.result({'tool': 'pnav-lab', 'short': rows})


def cmd_window(args) -> None:
    shell = make_shell()

    def wait_window() -> None:
        common.say('STARTED')
        common.wait_for('stop')

    shell.user_ns['__pnav_bench_wait'] = wait_window
    common.say('READY')
    common.wait_for('go')
    run_cell(shell, '%%pnav --quiet --no-save\n__pnav_bench_wait()')
    common.result({'tool': 'pnav-lab', 'window': energy_fields(last_run())})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['overhead', 'short', 'window'])
    p.add_argument('--cells', type=int, default=500)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--durations', default='0.1,1')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--tdp', type=float, default=None)
    p.add_argument('--out', required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.chdir(args.out)  # the CSV of `%%pnav` (without --no-save) lands in the kernel's working directory
    {'overhead': cmd_overhead, 'short': cmd_short, 'window': cmd_window}[args.cmd](args)


if __name__ == '__main__':
    main()
