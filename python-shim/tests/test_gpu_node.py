"""A simulated 8-GPU node with 2 TiB of RAM (fake sysfs/procfs, fake libnvidia-ml, fake nvidia-smi), a real
sidecar and a real ipykernel: a kernel using one GPU by UUID gets that GPU's energy only, the RAM model stays
near CodeCarbon 3's estimate, a 1 s cell is reported over 1.0 s despite a slow `--query-compute-apps`, and
every figure says how it was obtained in every output (API, methods CSV, JSON and BoAmps exports)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO, start_sidecar
from jupyter_client.multikernelmanager import MultiKernelManager
from test_kernel import execute, last_run

GPUS = 8
GPU_POWER_W = [100 + 10 * i for i in range(GPUS)]  # GPU 3 draws 130 W
UUID = [f'GPU-fake-{i}' for i in range(GPUS)]  # what the fake libnvidia-ml reports
TIB_KB = 2 * 1024**3  # 2 TiB in kB
CODECARBON3_2TIB_W = 70.0  # codecarbon/external/ram.py: 16 DIMMs estimated × 5 W at 100/90/80 %
SMI = REPO / 'sidecar' / 'test-support' / 'nvidia-smi'
FAKE_NVML = REPO / 'sidecar' / 'test-support' / 'fake-nvml.c'


def fake_gpus(directory: Path) -> None:
    """Each GPU's cumulative energy counter draws its power from now on (the fake libnvidia-ml reads
    "mJ watts since" and advances with the clock): the hardware boundary, with no writer to fall behind."""
    now = time.time()
    for i, watts in enumerate(GPU_POWER_W):
        (directory / f'energy{i}').write_text(f'1000000 {watts} {now}\n')


def fake_procfs(root: Path) -> Path:
    """/proc with the host's 2 TiB meminfo; everything else is the real /proc (the kernel's pid is linked later)."""
    proc = root / 'proc'
    (proc / 'self').mkdir(parents=True)
    (proc / 'self' / 'cgroup').write_text('0::/\n')
    (proc / 'meminfo').write_text(f'MemTotal: {TIB_KB} kB\nMemFree: {TIB_KB // 2} kB\nMemAvailable: {TIB_KB // 2} kB\n')
    for name in ('stat', 'cpuinfo'):
        (proc / name).symlink_to(f'/proc/{name}')
    return proc


@pytest.fixture(scope='module')
def node(tmp_path_factory):
    if shutil.which('cc') is None:
        pytest.skip('test_gpu_node SKIPPED: no C compiler to build the fake libnvidia-ml')
    root = tmp_path_factory.mktemp('gpu-node')
    (root / 'lib').mkdir()
    subprocess.run(
        ['cc', '-shared', '-fPIC', '-o', str(root / 'lib' / 'libnvidia-ml.so.1'), str(FAKE_NVML)], check=True
    )
    (root / 'nvml').mkdir()
    fake_gpus(root / 'nvml')
    apps = root / 'compute-apps.csv'
    apps.write_text('')
    proc = fake_procfs(root)
    smi_env = {
        'FAKE_SMI_GPUS': ';'.join(f'{i}, {UUID[i]}, NVIDIA H200' for i in range(GPUS)),
        'FAKE_SMI_APPS_FILE': str(apps),
        'FAKE_SMI_APPS_DELAY': '1.5',  # a busy 8-GPU node answers --query-compute-apps slowly
    }
    sidecar = start_sidecar(
        root,
        '--nvidia-smi',
        str(SMI),
        '--proc-root',
        str(proc),
        env={
            'LD_LIBRARY_PATH': str(root / 'lib'),
            'FAKE_NVML_DIR': str(root / 'nvml'),
            'FAKE_NVML_COUNT': str(GPUS),
            **smi_env,
        },
    )
    workdir = root / 'work'
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith('PNAV_')}
    env.update(
        PNAV_SIDECAR_URL=sidecar.url,
        PNAV_SIDECAR_TOKEN=sidecar.token,
        PNAV_SIDECAR_CMD='false',
        PNAV_RUNTIME_DIR=str(sidecar.runtime_dir),
        CUDA_VISIBLE_DEVICES=UUID[3],
    )
    manager = MultiKernelManager()
    kernel_id = manager.start_kernel(kernel_name='python3', env=env, cwd=str(workdir))
    km = manager.get_kernel(kernel_id)
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    pid = km.provisioner.process.pid
    (proc / str(pid)).symlink_to(f'/proc/{pid}')
    # The kernel holds GPU 3; another user's job holds GPU 5.
    apps.write_text(f'{pid}, {UUID[3]}, 40000 MiB\n999999, {UUID[5]}, 70000 MiB\n')
    execute(kc, '%load_ext pnav_lab')
    yield sidecar, kc, workdir
    kc.stop_channels()
    manager.shutdown_all(now=True)
    sidecar.stop()


def api(sidecar, method: str, path: str, body: dict | None = None):
    request = urllib.request.Request(
        f'{sidecar.url}{path}',
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={'Authorization': f'Bearer {sidecar.token}', 'Content-Type': 'application/json'},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def test_one_gpu_by_uuid_on_an_8_gpu_2_tib_node(node):
    sidecar, kc, workdir = node
    status = json.loads(api(sidecar, 'GET', '/api/v1/status'))
    assert status['hardware']['gpuCount'] == GPUS
    assert status['hardware']['ramTotalGB'] == 2048
    reply, _ = execute(kc, f'%%pnav --output-dir {workdir}\nimport time\ntime.sleep(1.0)')
    assert reply['status'] == 'ok', reply
    run = last_run(kc)
    if os.environ.get('PNAV_PRINT_FIGURES'):
        print(json.dumps({k: run[k] for k in ('durationS', 'gpuIds', 'energy', 'attribution')}, indent=1))

    # A 1 s cell is 1 s, although the process query after the counters takes 1.5 s.
    assert 1.0 <= run['durationS'] < 2.0  # reading after the 1.5 s query gave >= 2.5 s
    # The kernel's GPU only, by its UUID: 130 W over the window, not the node's 1,080 W.
    assert run['gpuIds'] == [3]
    gpu = run['energy']['gpu']
    assert gpu['method'] == 'nvml' and gpu['measured'] is True and gpu['scope'] == 'GPU 3'
    assert gpu['energyJ'] == pytest.approx(GPU_POWER_W[3] * run['durationS'], rel=0.1)
    # RAM: CodeCarbon 3's estimate for 2 TiB (70 W) ±20 %, labelled with its inputs; 0.375 W/GB said 768 W.
    ram = run['energy']['ram']
    assert ram['method'] == 'ram-model' and ram['measured'] is False
    assert ram['powerW'] == pytest.approx(CODECARBON3_2TIB_W, rel=0.2)
    assert '16 DIMMs estimated from 2048.0 GB (CodeCarbon 3 DIMM-count estimate)' in ram['basis']
    # Every figure says how it was obtained, and the headline says it is the machine's.
    assert run['energyScope'] == 'machine'
    for name in ('cpu', 'gpu', 'ram'):
        figure = run['energy'][name]
        assert figure['quality'] in ('fine', 'coarse') and figure['scope'] and figure['basis'], (name, figure)
        assert figure['degraded'] is None
    # The kernel's share: all of GPU 3 (its only compute process), CPU by CPU time, RAM by resident memory.
    shares = run['attribution']['components']
    assert shares['gpu']['basis'] == 'gpu-memory' and shares['gpu']['share'] == 1
    assert shares['cpu']['basis'] == 'cpu-time' and shares['ram']['basis'] == 'resident-memory'
    assert run['attribution']['facilityEnergyJ'] == pytest.approx(run['attribution']['energyJ'] * run['pue'])

    # The same provenance in every output: the methods CSV beside the PNAV CSV ...
    with open(workdir / 'emissions_training_methods.csv', newline='') as f:
        rows = [r for r in csv.DictReader(f) if r['run_id'] == run['id'] and r['epoch'] == '']
    assert [r['component'] for r in rows] == ['cpu', 'gpu', 'ram']
    for row in rows:
        figure = run['energy'][row['component']]
        assert (row['method'], row['quality'], row['scope'], row['basis']) == (
            figure['method'],
            figure['quality'],
            figure['scope'],
            figure['basis'],
        )
        assert row['measurement'] == ('measured' if figure['measured'] else 'estimated')
        assert row['attribution_basis'] == shares[row['component']]['basis']
    # ... the JSON export ...
    exported = json.loads(api(sidecar, 'POST', '/api/v1/exports', {'format': 'json', 'runIds': [run['id']]}))
    assert [(m['component'], m['scope'], m['basis']) for m in exported[0]['methods']] == [
        (r['component'], r['scope'], r['basis']) for r in rows
    ]
    # ... and the BoAmps report.
    boamps = json.loads(api(sidecar, 'POST', '/api/v1/exports', {'format': 'boamps', 'runIds': [run['id']]}))
    assert 'figures cover the machine: ' in boamps['task']['taskDescription']
    assert 'gpu measured by nvml' in boamps['task']['taskDescription']
