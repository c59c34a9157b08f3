"""Bench worker run inside CodeCarbon's throw-away venv (see compare-peers.py).

    python worker_codecarbon.py overhead --cells N --warmup W --tdp W --out DIR
    python worker_codecarbon.py short --durations 0.1,1 --repeats R --tdp W --out DIR
    python worker_codecarbon.py window --tdp W --out DIR     (READY, waits 'go', STARTED, waits 'stop')

Offline tracker (country ESP, no network), machine tracking, force_cpu_power = the shared TDP:
CodeCarbon 3 then estimates the CPU with its cpu_load mode, TDP x (0.1 + 0.9 u^3).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common

warnings.filterwarnings('ignore')


def tracker_kwargs(args) -> dict:
    return dict(
        country_iso_code='ESP',
        force_cpu_power=args.tdp,
        output_dir=args.out,
        log_level='error',
        allow_multiple_runs=True,
        tracking_mode='machine',
    )


def make_tracker(args):
    from codecarbon import OfflineEmissionsTracker

    return OfflineEmissionsTracker(**tracker_kwargs(args))


def energy_fields(data) -> dict:
    return {
        'durationS': data.duration,
        'cpuJ': data.cpu_energy * common.J_PER_KWH,
        'ramJ': data.ram_energy * common.J_PER_KWH,
        'totalJ': data.energy_consumed * common.J_PER_KWH,
        'cpuPowerW': data.cpu_power,
        'ramPowerW': data.ram_power,
    }


def cmd_overhead(args) -> None:
    def empty() -> None:
        pass

    def start_stop() -> None:
        tracker = make_tracker(args)
        tracker.start()
        tracker.stop()

    task_tracker = make_tracker(args)

    def task() -> None:
        task_tracker.start_task()
        task_tracker.stop_task()

    out = {}
    base, meas, first = common.timed_pairs(empty, start_stop, args.cells, args.warmup)
    out['EmissionsTracker() + start/stop'] = common.overhead_summary(base, meas, first)
    base, meas, first = common.timed_pairs(empty, task, args.cells, args.warmup)
    out['start_task/stop_task'] = common.overhead_summary(base, meas, first)
    common.result({'tool': 'codecarbon', 'version': version(), 'overhead': out})


def cmd_short(args) -> None:
    rows = []
    for d in [float(x) for x in args.durations.split(',')]:
        for variant in ('start/stop', 'start_task/stop_task'):
            reps = []
            tracker = make_tracker(args)
            for _ in range(args.repeats):
                if variant == 'start/stop':
                    tracker = make_tracker(args)
                    before = common.machine_cpu_times()
                    tracker.start()
                    common.busy(d)
                    tracker.stop()
                    data = tracker.final_emissions_data
                else:
                    before = common.machine_cpu_times()
                    tracker.start_task()
                    common.busy(d)
                    data = tracker.stop_task()
                u = common.utilisation(before, common.machine_cpu_times())
                fields = energy_fields(data)
                fields['u'] = u
                fields['cubicReferenceCpuJ'] = common.cubic_power_w(args.tdp, u) * fields['durationS']
                reps.append(fields)
            rows.append({'cellS': d, 'variant': variant, 'repeats': reps, **medians(reps)})
    common.result({'tool': 'codecarbon', 'version': version(), 'short': rows})


def medians(reps: list[dict]) -> dict:
    keys = reps[0].keys()
    return {f'median_{k}': statistics.median(r[k] for r in reps) for k in keys}


def cmd_window(args) -> None:
    warm = make_tracker(args)  # hardware detection runs at the first start(): keep it out of the window
    warm.start()
    warm.stop()
    tracker = make_tracker(args)
    common.say('READY')
    common.wait_for('go')
    tracker.start()
    common.say('STARTED')
    common.wait_for('stop')
    tracker.stop()
    common.result(
        {
            'tool': 'codecarbon',
            'version': version(),
            'window': energy_fields(tracker.final_emissions_data),
            'measurePowerSecs': tracker._measure_power_secs,
        }
    )


def version() -> str:
    import codecarbon

    return codecarbon.__version__


def main() -> None:
    logging.getLogger('codecarbon').setLevel(logging.ERROR)
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['overhead', 'short', 'window'])
    p.add_argument('--cells', type=int, default=200)
    p.add_argument('--warmup', type=int, default=5)
    p.add_argument('--durations', default='0.1,1')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--tdp', type=float, required=True)
    p.add_argument('--out', required=True)
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    {'overhead': cmd_overhead, 'short': cmd_short, 'window': cmd_window}[args.cmd](args)


if __name__ == '__main__':
    main()
