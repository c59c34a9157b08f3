#!/usr/bin/env python3
"""What a measured cell costs as a user feels it: wall time added per cell in a real ipykernel.

    .venv/bin/python test/bench/kernel-overhead.py [--cells 200] [--first-kernels 5] [--seed 1]

One real sidecar (fake RAPL sysfs at the hardware boundary, temporary data and runtime dirs), one
real ipykernel started by jupyter_client, execute_request -> reply + idle timed from this process,
as JupyterLab drives it. The run is made of rounds, each running every kind of cell once in a random
order; a kind's added time is the median over rounds of its time minus the plain cell's time of the
same round, so load that comes and goes moves both. The figures to quote are the ratios of added
times (robust to the load of a shared machine), not the absolute milliseconds:

    plain                         pass
    %%time                        IPython's own cell magic: runs the body, prints a line
    %%pnav --no-save --quiet      a measured run, nothing printed or written
    %%pnav                        a measured run, CSV row + summary line
    codecarbon task               CodeCarbon's start_task() / stop_task() around the body
    codecarbon tracker            an OfflineEmissionsTracker created, started and stopped in the cell

CodeCarbon is installed from PyPI, with ipykernel, into a throw-away venv kept between runs
(--peers-dir, like compare-peers.py); the kernel runs there, with pnav_lab from this checkout on
its path. Without PyPI the CodeCarbon kinds are skipped, loudly, and the kernel is ours.

Also measured: the first %%pnav cell of fresh kernels (sidecar already running), against the
first plain cell of the same kernels.

Prints p50/p90 per kind, the added p50, the three target ratios, and writes
test/bench/results/kernel-overhead.json.
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

from bench_venv import throwaway_venv

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SIDECAR_CLI = ROOT / 'sidecar' / 'dist' / 'cli.js'
RESULTS = HERE / 'results' / 'kernel-overhead.json'
KERNEL_PACKAGES = ['codecarbon', 'ipykernel']

TRACKER_ARGS = (
    "country_iso_code='ESP', force_cpu_power=85, log_level='error', allow_multiple_runs=True, "
    "tracking_mode='machine', output_dir=_cc_dir"
)
KINDS = {
    'plain': 'pass',
    '%%time': '%%time\npass',
    '%%pnav --no-save --quiet': '%%pnav --no-save --quiet\npass',
    '%%pnav': '%%pnav\npass',
    'codecarbon task': '_cc_task.start_task()\npass\n_cc_task.stop_task()',
    'codecarbon tracker': f'_cc = OfflineEmissionsTracker({TRACKER_ARGS})\n_cc.start()\npass\n_cc.stop()',
}
CODECARBON_KINDS = ('codecarbon task', 'codecarbon tracker')
CODECARBON_SETUP = (
    'import logging, os, warnings\n'
    'warnings.filterwarnings("ignore")\n'
    'logging.getLogger("codecarbon").setLevel(logging.ERROR)\n'
    'from codecarbon import OfflineEmissionsTracker\n'
    '_cc_dir = os.path.abspath("codecarbon-out"); os.makedirs(_cc_dir, exist_ok=True)\n'
    f'_cc_task = OfflineEmissionsTracker({TRACKER_ARGS})\n'
    # hardware detection runs at the first start(): keep it out of the timed cells
    f'_warm = OfflineEmissionsTracker({TRACKER_ARGS}); _warm.start(); _warm.stop()\n'
)


def log(msg: str) -> None:
    print(f'[kernel-overhead] {msg}', flush=True)


# ------------------------------------------------------------------ environments


def kernel_venv(peers_dir: Path, fresh: bool) -> tuple[Path | None, str | None]:
    """The python of a venv holding CodeCarbon and ipykernel, or (None, why it is skipped)."""
    return throwaway_venv(peers_dir / 'venv-kernel-overhead', list(KERNEL_PACKAGES), fresh=fresh, log=log)


def installed_version(python: Path, package: str) -> str | None:
    done = subprocess.run(
        [str(python), '-c', f'import importlib.metadata as m; print(m.version({package!r}))'],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or None


class Sidecar:
    """A real sidecar in throw-away directories, reading a fake RAPL package counter."""

    def __init__(self, work: Path):
        zone = work / 'sys' / 'class' / 'powercap' / 'intel-rapl:0'
        zone.mkdir(parents=True)
        (zone / 'name').write_text('package-0\n')
        (zone / 'energy_uj').write_text('1000000\n')
        (zone / 'max_energy_range_uj').write_text('262143328850\n')
        self.runtime = work / 'runtime'
        self.log_file = open(work / 'sidecar.log', 'w')
        cmd = ['node', str(SIDECAR_CLI), 'sidecar', '--port', '0', '--runtime-dir', str(self.runtime)]
        cmd += ['--data-dir', str(work / 'data'), '--sysfs-root', str(work / 'sys')]
        cmd += ['--nvidia-smi', str(work / 'none'), '--country', 'ESP']
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT)
        runtime_file = self.runtime / 'pnav-sidecar.json'
        deadline = time.monotonic() + 60
        while True:
            try:
                info = json.loads(runtime_file.read_text())
                break
            except (OSError, ValueError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(
                        f'the sidecar did not start (npm run build); log in {work / "sidecar.log"}'
                    ) from None
                time.sleep(0.05)
        self.url, self.token = info['url'], info['token']

    def kernel_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith('PNAV_')}
        env.update(
            PNAV_SIDECAR_URL=self.url,
            PNAV_SIDECAR_TOKEN=self.token,
            PNAV_RUNTIME_DIR=str(self.runtime),
            PNAV_SIDECAR_CMD='false',
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / 'python-shim'), env.get('PYTHONPATH')])),
        )
        return env

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()


# ------------------------------------------------------------------ the kernel


class Kernel:
    """One ipykernel, driven the way JupyterLab drives it: execute_request, then reply and idle."""

    def __init__(self, python: Path, env: dict, cwd: Path, kernels_dir: Path):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        spec_dir = kernels_dir / 'kernels' / 'bench'
        spec_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(python), '-m', 'ipykernel_launcher', '-f', '{connection_file}']
        (spec_dir / 'kernel.json').write_text(json.dumps({'argv': argv, 'display_name': 'bench', 'language': 'python'}))
        specs = KernelSpecManager(kernel_dirs=[str(kernels_dir / 'kernels')])
        self.km = KernelManager(kernel_name='bench', kernel_spec_manager=specs)
        self.km.start_kernel(env=env, cwd=str(cwd))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)

    def execute(self, code: str, timeout_s: float = 120) -> tuple[float, dict, list]:
        """(seconds from the request to the reply and idle, reply content, iopub messages)."""
        kc = self.kc
        started = time.perf_counter()
        msg_id = kc.execute(code, store_history=True)
        outputs, reply, idle = [], None, False
        deadline = time.monotonic() + timeout_s
        while not idle:
            msg = kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg['parent_header'].get('msg_id') != msg_id:
                continue
            if msg['msg_type'] == 'status':
                idle = msg['content']['execution_state'] == 'idle'
            elif msg['msg_type'] != 'execute_input':
                outputs.append(msg)
        while reply is None:
            msg = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg['parent_header'].get('msg_id') == msg_id:
                reply = msg['content']
        return time.perf_counter() - started, reply, outputs

    def must(self, code: str) -> list:
        _, reply, outputs = self.execute(code)
        if reply['status'] != 'ok':
            raise SystemExit(f'setup cell failed: {code!r}: {reply.get("ename")}: {reply.get("evalue")}')
        return outputs

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def stderr_text(outputs: list) -> str:
    return ''.join(
        m['content']['text'] for m in outputs if m['msg_type'] == 'stream' and m['content']['name'] == 'stderr'
    )


# ------------------------------------------------------------------ figures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def per_cell(kernel: Kernel, kinds: dict[str, str], cells: int, warmup: int, seed: int) -> list[dict[str, float]]:
    """`cells` rounds, each running every kind once in a random order: [{kind: ms}] per round."""
    rng = random.Random(seed)
    rounds = []
    for i in range(warmup + cells):
        order = list(kinds)
        rng.shuffle(order)
        times = {}
        for name in order:
            elapsed, reply, outputs = kernel.execute(kinds[name])
            if reply['status'] != 'ok':
                raise SystemExit(f'{name} failed: {reply.get("ename")}: {reply.get("evalue")}')
            if 'Warning' in stderr_text(outputs):
                raise SystemExit(f'{name} warned: {stderr_text(outputs)[:500]}')
            times[name] = elapsed * 1000
        if i >= warmup:
            rounds.append(times)
    return rounds


def first_cells(python: Path, sidecar: Sidecar, work: Path, kernels: int) -> dict:
    """The first %%pnav cell of fresh kernels against the median plain cell of each."""
    load_ms, first_ms, plain_ms = [], [], []
    for i in range(kernels):
        cwd = work / f'first-{i}'
        cwd.mkdir()
        kernel = Kernel(python, sidecar.kernel_env(), cwd, work)
        try:
            for _ in range(20):
                kernel.execute('pass')
            plains = [kernel.execute('pass')[0] * 1000 for _ in range(20)]
            elapsed, reply, _ = kernel.execute('%load_ext pnav_lab')
            load_ms.append(elapsed * 1000)
            elapsed, reply, outputs = kernel.execute('%%pnav --no-save --quiet\npass')
            if reply['status'] != 'ok' or 'Warning' in stderr_text(outputs):
                raise SystemExit(f'first %%pnav cell failed: {reply} {stderr_text(outputs)[:300]}')
            first_ms.append(elapsed * 1000)
            plain_ms.append(statistics.median(plains))
        finally:
            kernel.stop()
    added = [f - p for f, p in zip(first_ms, plain_ms)]
    return {
        'kernels': kernels,
        'loadExtP50Ms': statistics.median(load_ms),
        'firstPnavCellP50Ms': statistics.median(first_ms),
        'plainCellP50Ms': statistics.median(plain_ms),
        'firstPnavAddedP50Ms': statistics.median(added),
        'firstPnavAddedMaxMs': max(added),
        'loadExtPlusFirstAddedP50Ms': statistics.median([a + b for a, b in zip(load_ms, added)]),
    }


def summarise(rounds: list[dict[str, float]]) -> dict:
    """p50/p90 per kind, and the added time: the median over rounds of (kind - plain) in the same round,
    which cancels the load changes that move both (the machine is shared)."""
    out = {}
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        added = [r[name] - r['plain'] for r in rounds]
        out[name] = {
            'n': len(values),
            'p50Ms': round(statistics.median(values), 3),
            'p90Ms': round(percentile(values, 90), 3),
            'addedP50Ms': round(statistics.median(added), 3),
        }
    return out


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator or denominator <= 0:
        return None
    return round(numerator / denominator, 2)


def targets(kinds: dict) -> list[dict]:
    def added(name: str) -> float | None:
        return kinds[name]['addedP50Ms'] if name in kinds else None

    rows = [
        ('%%pnav --no-save --quiet added / %%time added', added('%%pnav --no-save --quiet'), added('%%time'), 2.0),
        (
            '%%pnav --no-save --quiet added / CodeCarbon start_task/stop_task added',
            added('%%pnav --no-save --quiet'),
            added('codecarbon task'),
            0.5,
        ),
        ('%%pnav (CSV row + summary line) added / %%time added', added('%%pnav'), added('%%time'), 3.0),
    ]
    out = []
    for name, num, den, limit in rows:
        value = ratio(num, den)
        out.append(
            {'ratio': name, 'value': value, 'target': f'<= {limit}', 'met': None if value is None else value <= limit}
        )
    return out


def print_table(kinds: dict, ratios: list[dict], first: dict | None, load: tuple) -> None:
    print(
        f'\nper-cell wall time, execute_request -> reply + idle (load average {load[0]:.1f} before, {load[1]:.1f} after)'
    )
    print(f'  {"cell":28s} {"n":>4s} {"p50 ms":>9s} {"p90 ms":>9s} {"added ms (median of paired)":>28s}')
    for name, row in kinds.items():
        print(f'  {name:28s} {row["n"]:4d} {row["p50Ms"]:9.3f} {row["p90Ms"]:9.3f} {row["addedP50Ms"]:28.3f}')
    print('targets (ratios of added p50, one run):')
    for row in ratios:
        value = 'n/a' if row['value'] is None else f'{row["value"]:.2f}'
        verdict = '' if row['met'] is None else ('met' if row['met'] else 'NOT met')
        print(f'  {row["ratio"]:72s} {value:>6s}  target {row["target"]}  {verdict}')
    if first:
        print(
            f'first %%pnav cell of a fresh kernel ({first["kernels"]} kernels, sidecar running): added p50 '
            f'{first["firstPnavAddedP50Ms"]:.1f} ms (max {first["firstPnavAddedMaxMs"]:.1f}; target <= 50 ms); '
            f'%load_ext pnav_lab p50 {first["loadExtP50Ms"]:.1f} ms'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cells', type=int, default=200, help='timed rounds, one cell of each kind (default 200)')
    parser.add_argument('--warmup', type=int, default=10, help='untimed rounds first')
    parser.add_argument('--first-kernels', type=int, default=5, help='fresh kernels for the first-cell figure')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--peers-dir', type=Path, default=Path(tempfile.gettempdir()) / 'pnav-bench-peers')
    parser.add_argument('--fresh', action='store_true', help='rebuild the throw-away venv')
    parser.add_argument('--no-codecarbon', action='store_true', help='skip the CodeCarbon kinds')
    parser.add_argument('--out', type=Path, default=RESULTS)
    args = parser.parse_args()

    skipped = None
    python: Path | None = None
    if not args.no_codecarbon:
        args.peers_dir.mkdir(parents=True, exist_ok=True)
        python, skipped = kernel_venv(args.peers_dir, args.fresh)
        if skipped:
            log(f'SKIPPED LOUDLY: CodeCarbon kinds: {skipped}')
    else:
        skipped = '--no-codecarbon'
    kinds = dict(KINDS)
    if python is None:
        python = Path(sys.executable)
        for name in CODECARBON_KINDS:
            kinds.pop(name)

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix='pnav-kernel-overhead-') as tmp:
        work = Path(tmp)
        sidecar = Sidecar(work)
        try:
            cwd = work / 'kernel-cwd'
            cwd.mkdir()
            kernel = Kernel(python, sidecar.kernel_env(), cwd, work)
            try:
                kernel.must('%load_ext pnav_lab')
                if 'codecarbon task' in kinds:
                    kernel.must(CODECARBON_SETUP)
                log(f'{args.cells} rounds of {len(kinds)} kinds, each round in a random order (seed {args.seed})')
                rounds = per_cell(kernel, kinds, args.cells, args.warmup, args.seed)
                mains = [f for f in cwd.glob('emissions_*.csv') if not f.stem.endswith(('_epochs', '_methods'))]
                csv_rows = sum(len(f.read_text().splitlines()) - 1 for f in mains)
            finally:
                kernel.stop()
            first = first_cells(python, sidecar, work, args.first_kernels) if args.first_kernels > 0 else None
        finally:
            sidecar.stop()
    load_after = os.getloadavg()[0]

    summary = summarise(rounds)
    ratios = targets(summary)
    print_table(summary, ratios, first, (load_before, load_after))
    result = {
        'date': dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'command': 'python test/bench/kernel-overhead.py ' + ' '.join(sys.argv[1:]),
        'method': 'one real ipykernel driven by jupyter_client; wall time from execute_request to the reply and '
        'idle status; rounds running every kind once in a random order; added = median over rounds of (kind - '
        'plain of the same round); real sidecar with a fake RAPL counter (hardware boundary)',
        'machine': {
            'cpuCount': os.cpu_count(),
            'python': platform.python_version(),
            'loadAverageBefore': round(load_before, 2),
            'loadAverageAfter': round(load_after, 2),
        },
        'versions': {
            'codecarbon': None if skipped else installed_version(python, 'codecarbon'),
            'ipykernel': installed_version(python, 'ipykernel'),
        },
        'skipped': skipped,
        'csvRowsWritten': csv_rows,
        'kinds': summary,
        'ratios': ratios,
        'firstCell': first,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + '\n')
    log(f'wrote {args.out}')


if __name__ == '__main__':
    main()
