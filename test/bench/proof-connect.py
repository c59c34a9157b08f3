#!/usr/bin/env python3
"""What proving the sidecar costs a kernel: a new connection now carries one extra loopback round trip.

    .venv/bin/python test/bench/proof-connect.py [--rounds 400]

One real sidecar (fake RAPL sysfs at the hardware boundary, temporary data and runtime dirs). Three ways
to make the request a kernel makes most, `GET /api/v1/status`, timed from this process, interleaved in
random order per round so load that comes and goes touches all of them:

    plain new connection      connect, send the token, read the answer (what clients did before)
    verified new connection   connect, challenge, check the HMAC proof, then send the token (pnav_lab now)
    warm connection           a kept-alive connection (what a cell uses within 4 s of the previous one)

The proof is paid once per new connection; the client keeps connections alive, so a run of cells pays
it on the first cell after 4 s idle. Prints p50/p90 per way and the ratio verified/plain, and writes
test/bench/results/proof-connect.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SIDECAR_CLI = ROOT / 'sidecar' / 'dist' / 'cli.js'
RESULTS = HERE / 'results' / 'proof-connect.json'
sys.path.insert(0, str(ROOT / 'python-shim'))

from pnav_lab.client import connect_verified  # noqa: E402
from pnav_lab.discovery import SidecarEndpoint  # noqa: E402
from pnav_lab.http1 import Connection  # noqa: E402


def start_sidecar(root: Path):
    zone = root / 'sys' / 'class' / 'powercap' / 'intel-rapl:0'
    zone.mkdir(parents=True)
    (zone / 'name').write_text('package-0\n')
    (zone / 'energy_uj').write_text('5000000\n')
    (zone / 'max_energy_range_uj').write_text('262143328850\n')
    runtime = root / 'runtime'
    env = {k: v for k, v in os.environ.items() if not k.startswith('PNAV_')}
    process = subprocess.Popen(
        ['node', str(SIDECAR_CLI), 'sidecar', '--runtime-dir', str(runtime), '--data-dir', str(root / 'data'),
         '--sysfs-root', str(root / 'sys'), '--nvidia-smi', str(root / 'none'), '--country', 'ESP'],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            info = json.loads((runtime / 'pnav-sidecar.json').read_text())
            return process, SidecarEndpoint(info['url'], info['token'], info['pid'])
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    process.kill()
    raise SystemExit('the sidecar did not start within 30 s')


def status(connection: Connection, token: str) -> None:
    response = connection.request('GET', '/api/v1/status', {'Authorization': f'Bearer {token}'}, None)
    assert response.status == 200, response.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--rounds', type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='pnav-bench-proof-') as tmp:
        process, endpoint = start_sidecar(Path(tmp))
        try:
            parts = urlsplit(endpoint.url)
            warm = Connection(parts.hostname, parts.port, 2.0)

            def plain():
                connection = Connection(parts.hostname, parts.port, 2.0)
                status(connection, endpoint.token)
                connection.close()

            def verified():
                connection = connect_verified(endpoint, 2.0)
                status(connection, endpoint.token)
                connection.close()

            ways = {
                'plain new connection': plain,
                'verified new connection': verified,
                'warm connection': lambda: status(warm, endpoint.token),
            }
            for way in ways.values():  # warm up the sidecar's JIT and our imports
                for _ in range(50):
                    way()
            times_ms: dict[str, list[float]] = {name: [] for name in ways}
            rng = random.Random(1)
            for _ in range(args.rounds):
                for name in rng.sample(list(ways), len(ways)):
                    started = time.perf_counter()
                    ways[name]()
                    times_ms[name].append((time.perf_counter() - started) * 1000)
            warm.close()
        finally:
            process.terminate()
            process.wait(timeout=10)

    def pct(values, q):
        return statistics.quantiles(values, n=100)[q - 1]

    figures = {
        name: {'p50Ms': round(statistics.median(v), 3), 'p90Ms': round(pct(v, 90), 3)} for name, v in times_ms.items()
    }
    ratio = figures['verified new connection']['p50Ms'] / figures['plain new connection']['p50Ms']
    print(f'{"way":28s} {"p50 ms":>8s} {"p90 ms":>8s}   ({args.rounds} rounds, random order per round)')
    for name, f in figures.items():
        print(f'{name:28s} {f["p50Ms"]:8.3f} {f["p90Ms"]:8.3f}')
    print(f'verified / plain new connection, p50: {ratio:.2f}x')
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                'date': dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds'),
                'command': f'.venv/bin/python test/bench/proof-connect.py --rounds {args.rounds}',
                'machine': platform.platform(),
                'method': 'GET /api/v1/status timed from a Python process; ways interleaved per round',
                'figures': figures,
                'verifiedOverPlainP50': round(ratio, 2),
            },
            indent=2,
        )
        + '\n'
    )


if __name__ == '__main__':
    main()
