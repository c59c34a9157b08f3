"""How much wall time %%pnav adds to an empty cell.

One IPython InteractiveShell, a real sidecar (node sidecar/dist/cli.js, fake sysfs at the hardware boundary),
N cells with and without the magic, interleaved so both see the same machine state. Prints p50/p99 and the
added time. Target: <= 2 ms added at p50.

Run: /work/main/.venv/bin/python test/bench/cell-overhead.py [--cells 500]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def start_sidecar(root: Path) -> tuple[subprocess.Popen, dict]:
    zone = root / 'sys' / 'class' / 'powercap' / 'intel-rapl:0'
    zone.mkdir(parents=True)
    (zone / 'name').write_text('package-0\n')
    (zone / 'energy_uj').write_text('1000000\n')
    (zone / 'max_energy_range_uj').write_text('262143328850\n')
    runtime = root / 'runtime'
    process = subprocess.Popen(
        [
            'node',
            str(REPO / 'sidecar' / 'dist' / 'cli.js'),
            'sidecar',
            '--port',
            '0',
            '--runtime-dir',
            str(runtime),
            '--data-dir',
            str(root / 'data'),
            '--sysfs-root',
            str(root / 'sys'),
            '--nvidia-smi',
            str(root / 'none'),
            '--country',
            'ESP',
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return process, json.loads((runtime / 'pnav-sidecar.json').read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    process.kill()
    raise SystemExit('the sidecar did not start (build it: npm run build -w sidecar)')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(shell, cells: dict[str, str], n: int) -> dict[str, list[float]]:
    times = {name: [] for name in cells}
    sink = io.StringIO()
    for _ in range(n):
        for name, source in cells.items():
            with contextlib.redirect_stdout(sink):
                started = time.perf_counter()
                result = shell.run_cell(source, store_history=True)
                elapsed = time.perf_counter() - started
            if not result.success:
                raise SystemExit(f'{name} failed: {result.error_in_exec!r}')
            times[name].append(elapsed * 1000)
        sink.seek(0)
        sink.truncate()
    return times


def print_round_trips(n: int) -> None:
    """Where the time goes: the two sidecar requests every measured cell makes, against the transport floor."""
    from pnav_lab.client import shared_client

    client = shared_client()
    floor, opens, closes = [], [], []
    for _ in range(n):
        started = time.perf_counter()
        client.healthz()
        floor.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        run = client.open_run({'kind': 'cell', 'pid': os.getpid()})
        opens.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.close_run(run['id'], {'status': 'ok'})
        closes.append((time.perf_counter() - started) * 1000)
    print('sidecar round trips from the kernel (kept-alive loopback HTTP):')
    for name, values in (
        ('GET /healthz (floor)', floor),
        ('POST /api/v1/runs', opens),
        ('POST /api/v1/runs/:id/close', closes),
    ):
        print(f'  {name:32s} p50 {statistics.median(values):7.3f} ms   p99 {percentile(values, 0.99):7.3f} ms')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cells', type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='pnav-bench-') as tmp:
        root = Path(tmp)
        process, info = start_sidecar(root)
        try:
            os.environ.update(
                PNAV_SIDECAR_URL=info['url'],
                PNAV_SIDECAR_TOKEN=info['token'],
                PNAV_RUNTIME_DIR=str(root / 'runtime'),
                PNAV_SIDECAR_CMD='false',
            )
            os.chdir(root)
            from IPython.testing.globalipapp import start_ipython

            shell = start_ipython()
            shell.run_line_magic('load_ext', 'pnav_lab')
            # Two phases, each interleaved with plain cells: the CSV-writing variant's disk work in the sidecar
            # would otherwise spill into the next cells' timings.
            phases = [
                {
                    'plain': 'pass',
                    'pnav --no-save --quiet': '%%pnav --no-save --quiet\npass',
                },
                {'plain': 'pass', 'pnav (CSV row + summary line)': '%%pnav\npass'},
            ]
            print(
                f'%%pnav overhead on an empty cell, {args.cells} cells each, one InteractiveShell, real sidecar '
                f'(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average '
                f'{os.getloadavg()[0]:.1f})'
            )
            quiet_added = None
            for cells in phases:
                measure(shell, cells, 20)  # warm-up: imports, connection, the sidecar's hot paths
                times = measure(shell, cells, args.cells)
                plain50 = statistics.median(times['plain'])
                for name, values in times.items():
                    p50, p99 = statistics.median(values), percentile(values, 0.99)
                    added = '' if name == 'plain' else f'   added p50 {p50 - plain50:.3f} ms'
                    print(f'  {name:32s} p50 {p50:7.3f} ms   p99 {p99:7.3f} ms{added}')
                    if name == 'pnav --no-save --quiet':
                        quiet_added = p50 - plain50
            print(f'target: <= 2 ms added at p50 -> {"met" if quiet_added <= 2 else "NOT met"} ({quiet_added:.3f} ms)')
            print_round_trips(args.cells)
        finally:
            os.chdir(REPO)
            process.terminate()
            process.wait(timeout=10)


if __name__ == '__main__':
    main()
