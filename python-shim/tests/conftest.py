"""A real sidecar for the tests: `node sidecar/dist/cli.js sidecar` on port 0 with a fake sysfs tree
(the hardware boundary) and temporary runtime and data directories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SIDECAR_CLI = REPO / 'sidecar' / 'dist' / 'cli.js'
ENERGY_UJ = 1_000_000_000

pytest_plugins = ['pytest_jupyter.jupyter_server']


@dataclass
class Sidecar:
    url: str
    token: str
    pid: int
    runtime_dir: Path
    data_dir: Path
    sysfs_root: Path
    process: subprocess.Popen

    def add_cpu_energy(self, joules: float) -> None:
        """Moves the fake RAPL package counter forward, as the CPU would."""
        path = self.sysfs_root / 'class' / 'powercap' / 'intel-rapl:0' / 'energy_uj'
        path.write_text(f'{int(path.read_text()) + int(joules * 1e6)}\n')

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def make_fake_sysfs(root: Path) -> Path:
    zone = root / 'sys' / 'class' / 'powercap' / 'intel-rapl:0'
    zone.mkdir(parents=True)
    (zone / 'name').write_text('package-0\n')
    (zone / 'energy_uj').write_text(f'{ENERGY_UJ}\n')
    (zone / 'max_energy_range_uj').write_text('262143328850\n')
    return root / 'sys'


def start_sidecar(root: Path, *extra: str, env: dict | None = None) -> Sidecar:
    if not SIDECAR_CLI.is_file():
        pytest.fail(f'the sidecar is not built: run `npm run build -w sidecar` ({SIDECAR_CLI} missing)')
    runtime_dir, data_dir = root / 'runtime', root / 'data'
    runtime_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    sysfs = root / 'sys' if (root / 'sys').exists() else make_fake_sysfs(root)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith('PNAV_')}, **(env or {})}
    process = subprocess.Popen(
        [
            'node',
            str(SIDECAR_CLI),
            'sidecar',
            '--port',
            '0',
            '--runtime-dir',
            str(runtime_dir),
            '--data-dir',
            str(data_dir),
            '--sysfs-root',
            str(sysfs),
            '--nvidia-smi',
            str(root / 'no-nvidia-smi'),
            '--country',
            'ESP',
            '--sample-interval',
            '200',
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(root / 'sidecar.log', 'ab'),
        env=env,
    )
    deadline = time.monotonic() + 30
    runtime_file = runtime_dir / 'pnav-sidecar.json'
    while time.monotonic() < deadline:
        if runtime_file.exists():
            try:
                info = json.loads(runtime_file.read_text())
                return Sidecar(info['url'], info['token'], info['pid'], runtime_dir, data_dir, sysfs, process)
            except (ValueError, KeyError):
                pass
        if process.poll() is not None:
            pytest.fail(f'the sidecar exited: {(root / "sidecar.log").read_text()[-2000:]}')
        time.sleep(0.05)
    process.kill()
    pytest.fail('the sidecar did not write its runtime file within 30 s')


@pytest.fixture(scope='session')
def sidecar(tmp_path_factory):
    running = start_sidecar(tmp_path_factory.mktemp('sidecar'))
    yield running
    running.stop()


@pytest.fixture
def private_sidecar(tmp_path):
    """A sidecar of its own, for tests that kill it."""
    running = start_sidecar(tmp_path / 'private')
    yield running
    running.stop()


def _reset_client():
    import pnav_lab.client

    if pnav_lab.client._shared is not None:
        pnav_lab.client._shared.close()
    pnav_lab.client._shared = None


@pytest.fixture
def sidecar_env(sidecar, monkeypatch):
    """The process environment pointing at the session sidecar; a fresh shared client."""
    for name in [n for n in os.environ if n.startswith('PNAV_')]:
        monkeypatch.delenv(name)
    monkeypatch.setenv('PNAV_SIDECAR_URL', sidecar.url)
    monkeypatch.setenv('PNAV_SIDECAR_TOKEN', sidecar.token)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(sidecar.runtime_dir))
    monkeypatch.setenv('PNAV_SIDECAR_CMD', 'false')  # never start another sidecar from a test
    _reset_client()
    yield sidecar
    _reset_client()


@pytest.fixture
def client(sidecar):
    from pnav_lab.client import SidecarClient
    from pnav_lab.discovery import SidecarEndpoint

    instance = SidecarClient(SidecarEndpoint(sidecar.url, sidecar.token, sidecar.pid), start=False)
    yield instance
    instance.close()


@pytest.fixture
def shell(sidecar_env, tmp_path, monkeypatch):
    """A real IPython InteractiveShell with the extension loaded, working in tmp_path."""
    from IPython.testing.globalipapp import get_ipython, start_ipython

    monkeypatch.chdir(tmp_path)
    ip = start_ipython() or get_ipython()
    ip.run_line_magic('load_ext', 'pnav_lab')
    yield ip
    ip.run_line_magic('unload_ext', 'pnav_lab')


def csv_unavailable(response: dict) -> str | None:
    """The reason when this sidecar build cannot write CSV yet (the PNAV outputs piece)."""
    csv = response.get('csv') or {}
    error = csv.get('error') or ''
    return error if 'not available' in error else None
