"""Bench worker run inside calculadorapnav's throw-away venv (see compare-peers.py).

    python worker_calculadorapnav.py overhead --cells N --warmup W --tdp W --out DIR
    python worker_calculadorapnav.py short --durations 0.1,1 --repeats R --tdp W --out DIR
    python worker_calculadorapnav.py window --tdp W --out DIR     (READY, waits 'go', STARTED, waits 'stop')

calculadorapnav's only working entry point is its decorator. Offline, country ESP,
allow_multiple_runs (no lock file), default_cpu_power = the shared TDP. Without RAPL it runs
CodeCarbon 2.8's constant mode: CPU power = 50 % of that TDP, whatever the load.
Figures are read back from the CSV row it writes, which is what its users get.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common

warnings.filterwarnings('ignore')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def decorate(fn, args, output_file: str):
    from calculadorapnav import track_emissions

    return track_emissions(
        type_process='inference',
        offline=True,
        country_iso_code='ESP',
        allow_multiple_runs=True,
        default_cpu_power=args.tdp,
        output_dir=args.out,
        output_file=output_file,
        log_level='error',
    )(fn)


def last_row(args, output_file: str) -> dict:
    with open(os.path.join(args.out, output_file), newline='') as f:
        rows = list(csv.DictReader(f))
    row = rows[-1]

    def kwh(key: str) -> float:
        return float(row[key] or 0) * common.J_PER_KWH

    return {
        'durationS': float(row['duration']),
        'cpuJ': kwh('cpu_energy'),
        'ramJ': kwh('ram_energy'),
        'totalJ': kwh('energy_consumed'),
        'cpuPowerW': float(row['cpu_power']),
        'ramPowerW': float(row['ram_power']),
        'rows': len(rows),
    }


def cmd_overhead(args) -> None:
    def empty() -> None:
        pass

    tracked = decorate(empty, args, 'overhead.csv')
    base, meas, first = common.timed_pairs(empty, tracked, args.cells, args.warmup)
    out = {'@track_emissions(offline=True)': common.overhead_summary(base, meas, first)}
    out['@track_emissions(offline=True)']['csvRowsAtEnd'] = last_row(args, 'overhead.csv')['rows']
    common.result({'tool': 'calculadorapnav', 'version': version(), 'overhead': out})


def cmd_short(args) -> None:
    rows = []
    for d in [float(x) for x in args.durations.split(',')]:
        reps = []
        tracked = decorate(common.busy, args, f'short-{d}.csv')
        for _ in range(args.repeats):
            before = common.machine_cpu_times()
            tracked(d)
            u = common.utilisation(before, common.machine_cpu_times())
            fields = last_row(args, f'short-{d}.csv')
            fields.pop('rows')
            fields['u'] = u
            fields['cubicReferenceCpuJ'] = common.cubic_power_w(args.tdp, u) * fields['durationS']
            reps.append(fields)
        medians = {f'median_{k}': statistics.median(r[k] for r in reps) for k in reps[0]}
        rows.append({'cellS': d, 'variant': '@track_emissions', 'repeats': reps, **medians})
    common.result({'tool': 'calculadorapnav', 'version': version(), 'short': rows})


def cmd_window(args) -> None:
    def wait_window() -> None:
        common.say('STARTED')
        common.wait_for('stop')

    tracked = decorate(wait_window, args, 'window.csv')
    common.say('READY')
    common.wait_for('go')
    tracked()  # says STARTED once its tracker has started
    common.result(
        {
            'tool': 'calculadorapnav',
            'version': version(),
            'window': last_row(args, 'window.csv'),
            'measurePowerSecs': 15,
        }
    )


def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version('calculadorapnav')


def main() -> None:
    logging.getLogger('calculadorapnav').setLevel(logging.ERROR)
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['overhead', 'short', 'window'])
    p.add_argument('--cells', type=int, default=50)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--durations', default='0.1,1')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--tdp', type=float, required=True)
    p.add_argument('--out', required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    import calculadorapnav  # noqa: F401  (imports torch and tensorflow: seconds)

    sys.stderr.write(f'calculadorapnav imported in {time.perf_counter() - t0:.1f} s\n')
    {'overhead': cmd_overhead, 'short': cmd_short, 'window': cmd_window}[args.cmd](args)


if __name__ == '__main__':
    main()
