"""Measurements of test/gpu/check.sh on one NVIDIA GPU (read check.sh first; it starts the sidecar).

Compares the sidecar's GPU figures with NVML's total-energy counter read directly (ctypes, the calls
pynvml makes) around the same windows of matmul load, and measures what the sidecar's choices rest on:
the counter's update period, queued work with and without the synchronise at close, the nvidia-smi
fallback on the same windows, CUDA_VISIBLE_DEVICES forms, and how long --query-compute-apps takes.
Only queries: no GPU setting (MIG mode, clocks, power limit) is read-write here.

--dry: no GPU and no torch; the "GPU" is the fake libnvidia-ml of the tests, whose counter files this
script advances itself at 400 W while "loaded" and 70 W otherwise. Checks the plumbing, not the GPU.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'python-shim'))  # pnav_lab.gpu_sync: the synchronise the magic runs at close

WINDOWS_S = [0.05, 0.2, 1.0, 10.0, 60.0]
DRY_WINDOWS_S = [0.05, 0.2, 1.0, 2.0]


class Nvml:
    """nvmlDeviceGetTotalEnergyConsumption (mJ) and the device's UUID, straight from libnvidia-ml."""

    def __init__(self, index: int):
        self.lib = ctypes.CDLL('libnvidia-ml.so.1')
        if self.lib.nvmlInit_v2() != 0:
            raise RuntimeError('nvmlInit_v2 failed')
        self.handle = ctypes.c_void_p()
        if self.lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(self.handle)) != 0:
            raise RuntimeError(f'no GPU {index}')
        buf = ctypes.create_string_buffer(96)
        self.lib.nvmlDeviceGetUUID(self.handle, buf, ctypes.c_uint(96))
        self.uuid = buf.value.decode()

    def energy_j(self) -> float:
        out = ctypes.c_ulonglong()
        code = self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handle, ctypes.byref(out))
        if code != 0:
            raise RuntimeError(f'nvmlDeviceGetTotalEnergyConsumption failed ({code})')
        return out.value / 1000


class Sidecar:
    def __init__(self, runtime_file: Path):
        info = json.loads(runtime_file.read_text())
        self.url, self.token = info['url'], info['token']

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f'{self.url}/api/v1{path}',
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={'Authorization': f'Bearer {self.token}', 'Content-Type': 'application/json'},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def open(self, **fields) -> str:
        return self.call('POST', '/runs', {'kind': 'manual', 'label': 'gpu-check', **fields})['run']['id']

    def close(self, run_id: str) -> dict:
        return self.call('POST', f'/runs/{run_id}/close', {'status': 'ok'})['run']


class TorchLoad:
    """Back-to-back matmuls on the GPU; `queue(s)` enqueues about s seconds of them without waiting."""

    def __init__(self):
        import torch  # the throw-away venv's torch

        self.torch = torch
        self.a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
        self.b = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16)
        torch.cuda.synchronize()
        start, n = time.perf_counter(), 20
        for _ in range(n):
            self.a @ self.b
        torch.cuda.synchronize()
        self.matmul_s = (time.perf_counter() - start) / n

    def run(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(max(1, int(0.01 / self.matmul_s))):
                self.a @ self.b
            self.torch.cuda.synchronize()

    def queue(self, seconds: float) -> None:
        for _ in range(int(seconds / self.matmul_s)):
            self.a @ self.b


class FakeLoad(threading.Thread):
    """--dry: advances the fake libnvidia-ml's counter file (GPU 0) at 400 W under load, 70 W idle."""

    def __init__(self):
        super().__init__(daemon=True)
        self.file = Path(os.environ['FAKE_NVML_DIR']) / 'energy0'
        self.smi_power = Path(os.environ['FAKE_SMI_POWER_DIR']) / '0'  # what the fake nvidia-smi streams
        self.loaded_until = 0.0
        self.energy_mj = float(self.file.read_text())
        self.start()

    def run(self):
        last = time.monotonic()
        while True:
            time.sleep(0.02)  # the fake counter moves every 20 ms, like NVML's fastest
            now = time.monotonic()
            watts = 400 if now < self.loaded_until else 70
            self.energy_mj += watts * (now - last) * 1000
            self.smi_power.write_text(f'{watts}\n')
            last = now
            tmp = self.file.with_suffix('.tmp')
            tmp.write_text(f'{int(self.energy_mj)}\n')
            tmp.replace(self.file)

    def run_load(self, seconds: float) -> None:
        self.loaded_until = time.monotonic() + seconds
        time.sleep(seconds)

    def queue(self, seconds: float) -> None:
        self.loaded_until = time.monotonic() + seconds

    def sync(self) -> list[str]:
        """Waits for the queued 'work', as torch.cuda.synchronize() would."""
        time.sleep(max(0.0, self.loaded_until - time.monotonic()))
        return ['fake']


def windows(sidecar: Sidecar, nvml: Nvml, load, sizes: list[float]) -> list[dict]:
    """Each edge of the direct window is the mean of a read just before and just after the sidecar's request."""
    rows = []
    for seconds in sizes:
        before = nvml.energy_j()
        run_id = sidecar.open(gpuIds=[0])
        direct0 = (before + nvml.energy_j()) / 2
        load(seconds)
        before = nvml.energy_j()
        run = sidecar.close(run_id)
        direct1 = (before + nvml.energy_j()) / 2
        gpu = run['energy']['gpu']
        rows.append(
            {
                'windowS': seconds,
                'sidecarJ': gpu['energyJ'],
                'directNvmlJ': direct1 - direct0,
                'ratio': gpu['energyJ'] / (direct1 - direct0) if direct1 > direct0 else None,
                'sidecarDurationS': run['durationS'],
                'quality': gpu.get('quality'),
                'method': gpu['method'],
            }
        )
    return rows


def update_period(nvml: Nvml, load, seconds: float) -> dict:
    """Back-to-back reads under load: the intervals between value changes."""
    done = threading.Event()
    thread = threading.Thread(target=lambda: (load(seconds), done.set()), daemon=True)
    thread.start()
    changes, last_value, reads = [], nvml.energy_j(), 0
    while not done.is_set():
        value = nvml.energy_j()
        reads += 1
        if value != last_value:
            changes.append(time.perf_counter())
            last_value = value
    thread.join()
    gaps_ms = [(b - a) * 1000 for a, b in zip(changes, changes[1:])]
    return {
        'reads': reads,
        'changes': len(changes),
        'medianMs': statistics.median(gaps_ms) if gaps_ms else None,
        'minMs': min(gaps_ms) if gaps_ms else None,
        'maxMs': max(gaps_ms) if gaps_ms else None,
    }


def queued_work(sidecar: Sidecar, load_queue, sync) -> dict:
    """~2 s of matmuls queued in a 'cell' that returns at once; the next 'cell' idles 3 s."""
    out = {}
    for mode in ('withoutSync', 'withSync'):
        first = sidecar.open(gpuIds=[0])
        load_queue(2.0)
        if mode == 'withSync':
            out['synchronised'] = sync()
        a = sidecar.close(first)
        second = sidecar.open(gpuIds=[0])
        time.sleep(3.0)
        b = sidecar.close(second)
        out[mode] = {
            'cellJ': a['energy']['gpu']['energyJ'],
            'cellS': a['durationS'],
            'nextCellJ': b['energy']['gpu']['energyJ'],
        }
        time.sleep(1.0)
    return out


def smi_fallback(sizes: list[float], load, nvml: Nvml, smi: str) -> dict:
    """The sidecar's nvidia-smi source (built dist) on the same kinds of windows, and the stream's line gaps."""
    script = Path(__file__).with_name('smi-window.mjs')
    proc = subprocess.Popen(
        ['node', str(script), smi, ','.join(map(str, sizes))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    rows, gaps = [], None
    while line := proc.stdout.readline():
        message = json.loads(line)
        if message['type'] == 'ready-for-window':
            direct0 = nvml.energy_j()
            proc.stdin.write('go\n')
            proc.stdin.flush()
            load(message['windowS'])
            direct1 = nvml.energy_j()
            proc.stdin.write('stop\n')
            proc.stdin.flush()
            result = json.loads(proc.stdout.readline())
            rows.append({**result, 'directNvmlJ': direct1 - direct0})
        elif message['type'] == 'gaps':
            gaps = message
    proc.wait(timeout=60)
    return {'windows': rows, 'lineGaps': gaps}


def visible_devices(sidecar: Sidecar, nvml: Nvml, load) -> list[dict]:
    out = []
    for label, value in (('index', '0'), ('uuid', nvml.uuid), ('prefix', nvml.uuid[:12])):
        run_id = sidecar.open(env={'CUDA_VISIBLE_DEVICES': value})
        direct0 = nvml.energy_j()
        load(1.0)
        direct1 = nvml.energy_j()
        run = sidecar.close(run_id)
        out.append(
            {
                'form': label,
                'value': value,
                'gpuIds': run['gpuIds'],
                'scope': run['energy']['gpu'].get('scope'),
                'sidecarJ': run['energy']['gpu']['energyJ'],
                'directNvmlJ': direct1 - direct0,
            }
        )
    return out


def compute_apps_latency(smi: str, n: int = 5) -> dict:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run(
            [smi, '--query-compute-apps=pid,gpu_uuid,used_memory', '--format=csv,noheader'],
            capture_output=True,
            check=False,
            timeout=60,
        )
        times.append((time.perf_counter() - start) * 1000)
    return {'calls': n, 'medianMs': statistics.median(times), 'maxMs': max(times)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runtime-file', required=True, type=Path)
    parser.add_argument('--out', required=True, type=Path)
    parser.add_argument('--nvidia-smi', default='nvidia-smi')
    parser.add_argument('--dry', action='store_true')
    args = parser.parse_args()

    from pnav_lab import gpu_sync

    sidecar = Sidecar(args.runtime_file)
    nvml = Nvml(0)
    if args.dry:
        fake = FakeLoad()
        load, queue, sync, sizes = fake.run_load, fake.queue, fake.sync, DRY_WINDOWS_S
    else:
        torch_load = TorchLoad()
        load, queue, sizes = torch_load.run, torch_load.queue, WINDOWS_S
        sync = gpu_sync.synchronize  # what %%pnav runs before it closes
    status = sidecar.call('GET', '/status')
    report = {
        'date': time.strftime('%Y-%m-%d %H:%M:%S %Z'),
        'dry': args.dry,
        'gpu': status['hardware']['gpuModel'],
        'gpuSource': next((s['detail'] for s in status['sources'] if s['component'] == 'gpu' and s['available']), None),
        'windows': windows(sidecar, nvml, load, sizes),
        'counterUpdate': update_period(nvml, load, 2.0),
        'queuedWork': queued_work(sidecar, queue, sync),
        'nvidiaSmiFallback': smi_fallback(sizes[:-1] + [min(sizes[-1], 10.0)], load, nvml, args.nvidia_smi),
        'visibleDevices': visible_devices(sidecar, nvml, load),
        'computeAppsQuery': compute_apps_latency(args.nvidia_smi),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'gpu-check.json').write_text(json.dumps(report, indent=2) + '\n')
    table = render(report)
    (args.out / 'gpu-check.md').write_text(table)
    print(table)
    return 0 if verdict(report) else 1


def ms(value: float | None) -> str:
    return 'n/a' if value is None else f'{value:.1f} ms'


def render(r: dict) -> str:
    lines = [f'GPU check {r["date"]} on {r["gpu"]}{" (DRY RUN: fake GPU, plumbing only)" if r["dry"] else ""}', '']
    lines += ['| window s | sidecar J | direct NVML J | ratio | quality |', '|---|---|---|---|---|']
    for w in r['windows']:
        ratio = f'{w["ratio"]:.4f}' if w['ratio'] else 'n/a'
        lines.append(f'| {w["windowS"]} | {w["sidecarJ"]:.2f} | {w["directNvmlJ"]:.2f} | {ratio} | {w["quality"]} |')
    c = r['counterUpdate']
    lines += [
        '',
        f'NVML counter update: median {ms(c["medianMs"])}, min {ms(c["minMs"])}, max {ms(c["maxMs"])} ({c["reads"]} reads)',
    ]
    q = r['queuedWork']
    lines += [
        '',
        '| queued ~2 s of matmuls | cell J | cell s | next cell J |',
        '|---|---|---|---|',
        *(
            f'| {m} | {q[m]["cellJ"]:.1f} | {q[m]["cellS"]:.3f} | {q[m]["nextCellJ"]:.1f} |'
            for m in ('withoutSync', 'withSync')
        ),
    ]
    s = r['nvidiaSmiFallback']
    lines += ['', '| window s | nvidia-smi J | direct NVML J |', '|---|---|---|']
    lines += [f'| {w["windowS"]} | {w["smiJ"]:.2f} | {w["directNvmlJ"]:.2f} |' for w in s['windows']]
    g = s['lineGaps']
    lines += [
        f'nvidia-smi -lms 100 line gaps: stream timestamps median {ms(g["stampMedianMs"])} (max {ms(g["stampMaxMs"])}), '
        f'arrivals median {ms(g["arrivalMedianMs"])} (max {ms(g["arrivalMaxMs"])})'
    ]
    lines += ['', '| CUDA_VISIBLE_DEVICES | gpuIds | scope | sidecar J | direct J |', '|---|---|---|---|---|']
    lines += [
        f'| {v["form"]} | {v["gpuIds"]} | {v["scope"]} | {v["sidecarJ"]:.1f} | {v["directNvmlJ"]:.1f} |'
        for v in r['visibleDevices']
    ]
    a = r['computeAppsQuery']
    lines += [
        '',
        f'nvidia-smi --query-compute-apps: median {a["medianMs"]:.0f} ms, max {a["maxMs"]:.0f} ms ({a["calls"]} calls)',
        '',
    ]
    return '\n'.join(lines)


def verdict(r: dict) -> bool:
    """Windows >= 1 s within 1 % of the direct counter, and the GPU counted once for every CUDA_VISIBLE_DEVICES form."""
    ok = all(w['ratio'] is not None and abs(w['ratio'] - 1) <= 0.01 for w in r['windows'] if w['windowS'] >= 1)
    return ok and all(v['gpuIds'] == [0] for v in r['visibleDevices'])


if __name__ == '__main__':
    sys.exit(main())
