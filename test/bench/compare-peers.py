#!/usr/bin/env python3
"""PNAV Lab side by side with CodeCarbon and calculadorapnav, in one run, on the same workload.

    python test/bench/compare-peers.py [--watch-s 60] [--steady-s 30] [--tdp 85] [--quick]

What it does:
1. installs the peers from PyPI into throw-away virtual environments (one each: their pins
   conflict — calculadorapnav wants psutil<6, CodeCarbon psutil>=6); kept under --peers-dir between
   runs (default <tmp>/pnav-bench-peers; --fresh rebuilds). Unreachable PyPI: the peer is reported
   as skipped, loudly;
2. starts a real sidecar (node sidecar/dist/cli.js sidecar --cpu-tdp TDP) in a temporary data and
   runtime directory;
3. measures, each tool in its own process, with the same TDP given to every tool
   (CodeCarbon force_cpu_power, calculadorapnav default_cpu_power, ours --cpu-tdp):
   - per-cell overhead: wall time added to an empty cell, p50/p99, ratio peer/ours;
   - short windows: a 100 ms and a 1 s CPU-bound cell, the energy each tool reports next to the
     same cubic load curve applied to the machine load measured around the cell;
   - cost of watching: CPU time of our sidecar (and kernel side) vs each peer's process, over the
     same --watch-s seconds, all three watching at once with nothing else to do;
   - agreement: a --steady-s window of steady load, all three measuring it at once;
4. prints a table and writes test/bench/results/compare-peers.json.
Ratios, not absolute times, are the figures to quote: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench_venv import throwaway_venv

sys.path.insert(0, str(Path(__file__).resolve().parent / 'peers'))
import common  # the workers' shared helpers (standard library only)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEERS = HERE / 'peers'

OUR_PYTHON = ROOT / '.venv' / 'bin' / 'python'
SIDECAR_CLI = ROOT / 'sidecar' / 'dist' / 'cli.js'
PEER_PACKAGES = {'codecarbon': 'codecarbon', 'calculadorapnav': 'calculadorapnav'}
CLK_TCK = os.sysconf('SC_CLK_TCK')


def log(msg: str) -> None:
    print(f'[compare-peers] {msg}', flush=True)


# ------------------------------------------------------------------ environments


def ensure_peer_venv(name: str, peers_dir: Path, fresh: bool) -> tuple[Path | None, str | None]:
    """The peer's venv python, or (None, why it is skipped); calculadorapnav pulls torch and tensorflow."""
    return throwaway_venv(peers_dir / f'venv-{name}', [PEER_PACKAGES[name]], fresh=fresh, log=log)


class Sidecar:
    """A real sidecar in throw-away directories."""

    def __init__(self, tdp: float, work: Path, sample_interval_ms: int | None):
        self.runtime = work / 'runtime'
        self.data = work / 'data'
        self.log_path = work / 'sidecar.log'
        cmd = [
            'node',
            str(SIDECAR_CLI),
            'sidecar',
            '--port',
            '0',
            '--runtime-dir',
            str(self.runtime),
            '--data-dir',
            str(self.data),
            '--cpu-tdp',
            str(tdp),
            '--country',
            'ESP',
        ]
        if sample_interval_ms:
            cmd += ['--sample-interval', str(sample_interval_ms)]
        self.log_file = open(self.log_path, 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, cwd=ROOT)
        runtime_file = self.runtime / 'pnav-sidecar.json'
        deadline = time.monotonic() + 30
        while not runtime_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f'the sidecar did not start; its log:\n{self.log_path.read_text()[-2000:]}')
            time.sleep(0.05)
        time.sleep(0.05)  # the file is written atomically, but be kind to slow disks
        info = json.loads(runtime_file.read_text())
        self.url, self.token, self.pid = info['url'], info['token'], self.proc.pid

    def api(self, path: str) -> dict:
        req = urllib.request.Request(
            self.url.rstrip('/') + path,
            headers={'Authorization': f'Bearer {self.token}'},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def env(self) -> dict:
        return {
            **os.environ,
            'PNAV_SIDECAR_URL': self.url,
            'PNAV_SIDECAR_TOKEN': self.token,
            'PNAV_RUNTIME_DIR': str(self.runtime),
        }

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log_file.close()


# ------------------------------------------------------------------ workers


def worker_cmd(tool: str, python: Path, sub: str, *args: str) -> list[str]:
    return [str(python), str(PEERS / f'worker_{tool}.py'), sub, *args]


def run_worker(cmd: list[str], env: dict | None = None, timeout: float = 1200) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    for line in r.stdout.splitlines():
        if line.startswith('RESULT '):
            return json.loads(line[len('RESULT ') :])
    raise RuntimeError(f'{" ".join(cmd[1:3])} failed (exit {r.returncode}):\n{(r.stdout + r.stderr)[-3000:]}')


class WindowWorker:
    """A worker holding one measurement window open between 'go' and 'stop'."""

    def __init__(self, name: str, cmd: list[str], env: dict | None = None):
        self.name = name
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            bufsize=1,
        )
        self.lines: list[str] = []

    def expect(self, word: str, timeout: float = 120) -> None:
        box: dict = {}

        def read() -> None:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                self.lines.append(line)
                if line.strip() == word or line.startswith('RESULT '):
                    box['ok'] = line
                    return

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if 'ok' not in box:
            self.proc.kill()
            raise RuntimeError(f'{self.name}: no {word!r} within {timeout} s; output: {"".join(self.lines)[-2000:]}')

    def send(self, word: str) -> None:
        self.proc.stdin.write(word + '\n')  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]

    def result(self, timeout: float = 120) -> dict:
        self.expect('RESULT', timeout)
        line = next(x for x in self.lines if x.startswith('RESULT '))
        self.proc.wait(timeout)
        return json.loads(line[len('RESULT ') :])


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f'/proc/{pid}/stat').read_text()
    fields = stat[stat.rindex(')') + 2 :].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


# ------------------------------------------------------------------ phases


def phase_overhead(tools: dict, sidecar: Sidecar, args, work: Path) -> dict:
    out: dict = {}
    log(f'overhead: ours, {args.cells} cells per variant')
    out['pnav-lab'] = run_worker(
        worker_cmd(
            'pnav',
            OUR_PYTHON,
            'overhead',
            '--cells',
            str(args.cells),
            '--out',
            str(work / 'pnav-overhead'),
        ),
        env=sidecar.env(),
    )['overhead']
    if 'codecarbon' in tools:
        log(f'overhead: CodeCarbon, {args.peer_cells} cells per variant')
        out['codecarbon'] = run_worker(
            worker_cmd(
                'codecarbon',
                tools['codecarbon'],
                'overhead',
                '--cells',
                str(args.peer_cells),
                '--tdp',
                str(args.tdp),
                '--out',
                str(work / 'cc-overhead'),
            )
        )['overhead']
    if 'calculadorapnav' in tools:
        log(f'overhead: calculadorapnav, {args.slow_cells} cells (about 1.1 s each)')
        out['calculadorapnav'] = run_worker(
            worker_cmd(
                'calculadorapnav',
                tools['calculadorapnav'],
                'overhead',
                '--cells',
                str(args.slow_cells),
                '--tdp',
                str(args.tdp),
                '--out',
                str(work / 'cp-overhead'),
            )
        )['overhead']
    ours = out['pnav-lab']['%%pnav --quiet']['p50Ms']
    ours_p99 = out['pnav-lab']['%%pnav --quiet']['p99Ms']
    ratios = {}
    for tool in ('codecarbon', 'calculadorapnav'):
        for variant, s in out.get(tool, {}).items():
            ratios[f'{tool} {variant}'] = {
                'p50Ratio': s['p50Ms'] / ours if ours else None,
                'p99Ratio': s['p99Ms'] / ours_p99 if ours_p99 else None,
            }
    return {
        'tools': out,
        'ratioPeerOverOurs': ratios,
        'oursReference': '%%pnav --quiet (writes the CSV, like the peers)',
    }


def phase_short(tools: dict, sidecar: Sidecar, args, work: Path) -> dict:
    common_args = [
        '--durations',
        args.durations,
        '--repeats',
        str(args.repeats),
        '--tdp',
        str(args.tdp),
    ]
    out: dict = {}
    log(f'short windows ({args.durations} s cells, {args.repeats} repeats each): ours')
    out['pnav-lab'] = run_worker(
        worker_cmd('pnav', OUR_PYTHON, 'short', *common_args, '--out', str(work / 'pnav-short')),
        env=sidecar.env(),
    )['short']
    for tool, folder in (('codecarbon', 'cc-short'), ('calculadorapnav', 'cp-short')):
        if tool in tools:
            log(f'short windows: {tool}')
            out[tool] = run_worker(
                worker_cmd(
                    tool,
                    tools[tool],
                    'short',
                    *common_args,
                    '--out',
                    str(work / folder),
                )
            )['short']
    interval_s = sidecar.api('/api/v1/status')['sampleIntervalMs'] / 1000
    sampling = {
        'pnav-lab': {'periodicIntervalS': interval_s, 'readsAtOpenAndClose': True},
        'codecarbon': {
            'periodicIntervalS': 15,
            'powerMonitorIntervalS': 1,
            'readsAtOpenAndClose': True,
        },
        'calculadorapnav': {'periodicIntervalS': 15, 'readsAtOpenAndClose': True},
    }
    for s in sampling.values():
        s['periodicSamplesInside'] = {d: int(float(d) // s['periodicIntervalS']) for d in args.durations.split(',')}
    return {'tools': out, 'sampling': sampling}


def open_windows(tools: dict, sidecar: Sidecar, args, work: Path, tag: str) -> list[WindowWorker]:
    workers = [
        WindowWorker(
            'pnav-lab',
            worker_cmd(
                'pnav',
                OUR_PYTHON,
                'window',
                '--tdp',
                str(args.tdp),
                '--out',
                str(work / f'pnav-{tag}'),
            ),
            env=sidecar.env(),
        )
    ]
    for tool in ('codecarbon', 'calculadorapnav'):
        if tool in tools:
            workers.append(
                WindowWorker(
                    tool,
                    worker_cmd(
                        tool,
                        tools[tool],
                        'window',
                        '--tdp',
                        str(args.tdp),
                        '--out',
                        str(work / f'{tool}-{tag}'),
                    ),
                )
            )
    for w in workers:
        w.expect('READY', timeout=180)
    # calculadorapnav builds its tracker inside the decorated call (~1.1 s, py-cpuinfo spawns a
    # process): start it first, then the others, so the windows differ by milliseconds, not a second.
    slow = [w for w in workers if w.name == 'calculadorapnav']
    for group in (slow, [w for w in workers if w not in slow]):
        for w in group:
            w.send('go')
        for w in group:
            w.expect('STARTED')
    return workers


def phase_watch(tools: dict, sidecar: Sidecar, args, work: Path) -> dict:
    log(f'cost of watching: all tools watching an idle machine for the same {args.watch_s:.0f} s')
    workers = open_windows(tools, sidecar, args, work, 'watch')
    time.sleep(2)  # let start-up work settle
    pids = {
        'pnav-lab sidecar': sidecar.pid,
        'pnav-lab kernel side': workers[0].proc.pid,
    }
    pids.update({w.name: w.proc.pid for w in workers[1:]})
    before = {k: cpu_ticks(p) for k, p in pids.items()}
    t0 = time.monotonic()
    time.sleep(args.watch_s)
    elapsed = time.monotonic() - t0
    after = {k: cpu_ticks(p) for k, p in pids.items()}
    for w in workers:
        w.send('stop')
    for w in workers:
        w.result()
    interval_s = sidecar.api('/api/v1/status')['sampleIntervalMs'] / 1000
    samples = {
        'pnav-lab sidecar': elapsed / interval_s,
        'pnav-lab kernel side': None,
        'codecarbon': elapsed / 1 + elapsed / 15,  # 1 s power monitor + 15 s measurement
        'calculadorapnav': elapsed / 15,
    }
    out = {}
    for k in pids:
        cpu_ms = (after[k] - before[k]) * 1000 / CLK_TCK
        n = samples.get(k)
        out[k] = {
            'cpuMs': cpu_ms,
            'percentOfOneCore': 100 * cpu_ms / 1000 / elapsed,
            'samples': n,
            'cpuMsPerSample': cpu_ms / n if n else None,
        }
    ours = out['pnav-lab sidecar']['cpuMs'] + out['pnav-lab kernel side']['cpuMs']
    ratios = {k: (v['cpuMs'] / ours if ours else None) for k, v in out.items() if not k.startswith('pnav-lab')}
    return {
        'durationS': elapsed,
        'clockTicksPerS': CLK_TCK,
        'processes': out,
        'ratioPeerOverOurs': ratios,
        'note': 'CPU time from /proc/<pid>/stat (utime+stime, all threads); resolution 1 tick. The sidecar '
        'serves every kernel of the user at once; a peer costs this per process.',
    }


def phase_agreement(tools: dict, sidecar: Sidecar, args, work: Path) -> dict:
    log(f'agreement: steady load ({args.load_procs} busy process(es)) measured by all tools for {args.steady_s:.0f} s')
    load = [
        subprocess.Popen(
            [
                sys.executable,
                '-c',
                f'import sys; sys.path.insert(0, {str(PEERS)!r}); import common; common.busy({args.steady_s + 60})',
            ]
        )
        for _ in range(args.load_procs)
    ]
    try:
        time.sleep(2)
        before = common.machine_cpu_times()
        workers = open_windows(tools, sidecar, args, work, 'agree')
        time.sleep(args.steady_s)
        for w in workers:
            w.send('stop')
        u = common.utilisation(before, common.machine_cpu_times())
        results = {w.name: w.result()['window'] for w in workers}
    finally:
        for p in load:
            p.kill()
            p.wait()
    ours = results['pnav-lab']
    out = {
        'machineUtilisation': u,
        'cubicReferenceCpuW': common.cubic_power_w(args.tdp, u),
        'tools': results,
        'cpuEnergyVsOurs': {},
        'cpuPowerVsOurs': {},
    }
    for tool, r in results.items():
        if tool == 'pnav-lab':
            continue
        # Windows differ by a few ms in start and stop: compare mean power, and energy for reference.
        ours_w = ours['cpuJ'] / ours['durationS']
        peer_w = r['cpuJ'] / r['durationS']
        out['cpuPowerVsOurs'][tool] = {
            'peerW': peer_w,
            'oursW': ours_w,
            'diffPercent': 100 * (peer_w - ours_w) / ours_w,
        }
        out['cpuEnergyVsOurs'][tool] = {
            'peerJ': r['cpuJ'],
            'oursJ': ours['cpuJ'],
            'diffPercent': 100 * (r['cpuJ'] - ours['cpuJ']) / ours['cpuJ'],
        }
    return out


# ------------------------------------------------------------------ report


def fmt(x, digits=2) -> str:
    if x is None:
        return '—'
    if isinstance(x, float):
        return f'{x:.{digits}f}'
    return str(x)


def table(rows: list[list], header: list[str]) -> str:
    cells = [header] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def print_report(res: dict) -> None:
    print(
        f'\n== PNAV Lab vs peers — {res["date"]} — {res["machine"]["cpuModel"]} x{res["machine"]["cpuCount"]}, '
        f'TDP given to every tool: {res["tdpW"]} W'
    )
    for tool, why in res['skipped'].items():
        print(f'!! {tool} SKIPPED: {why}')
    if 'overhead' in res:
        rows = []
        for tool, variants in res['overhead']['tools'].items():
            for variant, s in variants.items():
                ratio = res['overhead']['ratioPeerOverOurs'].get(f'{tool} {variant}', {})
                rows.append(
                    [
                        tool,
                        variant,
                        s['n'],
                        s['p50Ms'],
                        s['p99Ms'],
                        s['firstCellMs'],
                        ratio.get('p50Ratio'),
                        ratio.get('p99Ratio'),
                    ]
                )
        print('\nPer-cell overhead (wall time added to an empty cell, ms)')
        print(
            table(
                rows,
                [
                    'tool',
                    'variant',
                    'cells',
                    'p50',
                    'p99',
                    'first cell',
                    'p50 peer/ours',
                    'p99 peer/ours',
                ],
            )
        )
    if 'short' in res:
        rows = []
        for tool, entries in res['short']['tools'].items():
            for e in entries:
                rows.append(
                    [
                        tool,
                        e['variant'],
                        e['cellS'],
                        e['median_durationS'],
                        e['median_cpuJ'],
                        e['median_cpuJ'] / e['median_durationS'],
                        e['median_u'],
                        e['median_cubicReferenceCpuJ'],
                        e['median_ramJ'],
                    ]
                )
        print(
            '\nShort CPU-bound cells (medians; reference = TDP x (0.1 + 0.9 u^3) x duration, u measured around the cell)'
        )
        print(
            table(
                rows,
                [
                    'tool',
                    'variant',
                    'cell s',
                    'dur s',
                    'cpu J',
                    'cpu W',
                    'u',
                    'ref cpu J',
                    'ram J',
                ],
            )
        )
        srows = [
            [
                tool,
                s['periodicIntervalS'],
                *s['periodicSamplesInside'].values(),
                'yes' if s['readsAtOpenAndClose'] else 'no',
            ]
            for tool, s in res['short']['sampling'].items()
        ]
        print('\nSampling: periodic samples that fall inside each cell (every tool also reads at start and stop)')
        print(
            table(
                srows,
                [
                    'tool',
                    'interval s',
                    *[f'in {d} s cell' for d in res['short']['sampling']['pnav-lab']['periodicSamplesInside']],
                    'reads at start/stop',
                ],
            )
        )
    if 'watch' in res:
        rows = [
            [
                k,
                v['cpuMs'],
                v['percentOfOneCore'],
                v['samples'],
                v['cpuMsPerSample'],
                res['watch']['ratioPeerOverOurs'].get(k),
            ]
            for k, v in res['watch']['processes'].items()
        ]
        print(f'\nCost of watching ({res["watch"]["durationS"]:.0f} s, idle machine, all at once)')
        print(
            table(
                rows,
                ['process', 'cpu ms', '% core', 'samples', 'ms/sample', 'peer/ours'],
            )
        )
    if 'agreement' in res:
        a = res['agreement']
        rows = [
            [
                t,
                r['durationS'],
                r['cpuJ'],
                r['cpuJ'] / r['durationS'],
                r['ramJ'],
                a['cpuPowerVsOurs'].get(t, {}).get('diffPercent'),
            ]
            for t, r in a['tools'].items()
        ]
        print(
            f'\nAgreement under steady load (machine u = {a["machineUtilisation"]:.3f}; '
            f'cubic reference {a["cubicReferenceCpuW"]:.2f} W)'
        )
        print(table(rows, ['tool', 'dur s', 'cpu J', 'cpu W', 'ram J', 'cpu W vs ours %']))
    if res.get('targets'):
        print('\nTargets')
        for name, t in res['targets'].items():
            print(f'  {"MET " if t["met"] else "MISS"}  {name}: {fmt(t["value"])}')


def machine_facts() -> dict:
    model = 'unknown'
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(Path('/proc/meminfo').read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        'cpuModel': model,
        'cpuCount': os.cpu_count(),
        'ramGB': round(mem_kb / 1024 / 1024, 1),
        'kernel': platform.release(),
        'python': platform.python_version(),
        'raplReadable': Path('/sys/class/powercap/intel-rapl').exists(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        '--tdp',
        type=float,
        default=85.0,
        help="TDP in W given to every tool (default 85, CodeCarbon's unknown-CPU default)",
    )
    p.add_argument(
        '--watch-s',
        type=float,
        default=60.0,
        help='cost-of-watching window (default 60 s)',
    )
    p.add_argument(
        '--steady-s',
        type=float,
        default=30.0,
        help='agreement window under steady load (default 30 s)',
    )
    p.add_argument(
        '--load-procs',
        type=int,
        default=1,
        help='busy processes making the steady load (default 1)',
    )
    p.add_argument('--cells', type=int, default=500, help='%%pnav cells per variant (default 500)')
    p.add_argument(
        '--peer-cells',
        type=int,
        default=200,
        help='CodeCarbon cells per variant (default 200)',
    )
    p.add_argument(
        '--slow-cells',
        type=int,
        default=40,
        help='calculadorapnav cells (about 1.1 s each; default 40)',
    )
    p.add_argument(
        '--durations',
        default='0.1,1',
        help='CPU-bound cell lengths in s (default 0.1,1)',
    )
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument(
        '--sample-interval',
        type=int,
        default=None,
        help="sidecar --sample-interval in ms (default: the sidecar's)",
    )
    p.add_argument('--phases', default='overhead,short,watch,agreement')
    p.add_argument(
        '--peers-dir',
        type=Path,
        default=Path(tempfile.gettempdir()) / 'pnav-bench-peers',
    )
    p.add_argument('--fresh', action='store_true', help='reinstall the peers')
    p.add_argument('--no-peers', action='store_true', help='measure ours only')
    p.add_argument(
        '--quick',
        action='store_true',
        help='small numbers, for a smoke run (figures not quotable)',
    )
    p.add_argument('--json', type=Path, default=HERE / 'results' / 'compare-peers.json')
    args = p.parse_args()
    if args.quick:
        args.cells, args.peer_cells, args.slow_cells, args.repeats = 30, 20, 4, 2
        args.watch_s, args.steady_s = 10.0, 8.0
    phases = set(args.phases.split(','))

    if not SIDECAR_CLI.exists():
        raise SystemExit(f'{SIDECAR_CLI} is missing: run `npm run build -w sidecar` first')
    if not OUR_PYTHON.exists():
        raise SystemExit(f'{OUR_PYTHON} is missing: run `npm run build` (bootstrap) first')

    res: dict = {
        'date': dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'command': 'python3 test/bench/compare-peers.py ' + ' '.join(sys.argv[1:]),
        'machine': machine_facts(),
        'tdpW': args.tdp,
        'quick': args.quick,
        'skipped': {},
        'versions': {},
    }
    tools: dict[str, Path] = {}
    if not args.no_peers:
        args.peers_dir.mkdir(parents=True, exist_ok=True)
        for name in PEER_PACKAGES:
            python, why = ensure_peer_venv(name, args.peers_dir, args.fresh)
            if python is None:
                res['skipped'][name] = why
                log(f'!!! {name} SKIPPED: {why}')
            else:
                tools[name] = python
                marker = (python.parent.parent / '.pnav-bench-installed').read_text()
                res['versions'][name] = next(
                    (ln.split('==')[1] for ln in marker.splitlines() if ln.lower().startswith(f'{name}==')),
                    'unknown',
                )

    work = Path(tempfile.mkdtemp(prefix='pnav-compare-'))
    sidecar = Sidecar(args.tdp, work, args.sample_interval)
    try:
        status = sidecar.api('/api/v1/status')
        res['versions']['pnav-lab'] = status['version']
        res['sidecar'] = {
            'sampleIntervalMs': status['sampleIntervalMs'],
            'sources': [
                {k: s[k] for k in ('id', 'component', 'method', 'measured', 'detail')}
                for s in status['sources']
                if s['available']
            ],
        }
        if 'overhead' in phases:
            res['overhead'] = phase_overhead(tools, sidecar, args, work)
        if 'short' in phases:
            res['short'] = phase_short(tools, sidecar, args, work)
        if 'watch' in phases:
            res['watch'] = phase_watch(tools, sidecar, args, work)
        if 'agreement' in phases:
            res['agreement'] = phase_agreement(tools, sidecar, args, work)
    finally:
        sidecar.stop()
    res['targets'] = targets(res)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_suffix('.json.tmp')
    tmp.write_text(json.dumps(res, indent=2) + '\n')
    tmp.replace(args.json)
    print_report(res)
    print(f'\nwritten {args.json}')
    shutil.rmtree(work, ignore_errors=True)
    return 0


def targets(res: dict) -> dict:
    """The project's targets that these figures check."""
    out = {}
    if 'overhead' in res:
        p50 = res['overhead']['tools']['pnav-lab']['%%pnav --quiet']['p50Ms']
        out['%%pnav adds <= 2 ms to an empty cell at p50'] = {
            'value': p50,
            'met': p50 <= 2.0,
        }
    if 'agreement' in res and 'codecarbon' in res['agreement']['cpuPowerVsOurs']:
        d = res['agreement']['cpuPowerVsOurs']['codecarbon']['diffPercent']
        out['CPU estimate agrees with CodeCarbon (same method) within 5 %'] = {'value': d, 'met': abs(d) <= 5}
    return out


if __name__ == '__main__':
    sys.exit(main())
