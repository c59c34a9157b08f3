"""The server extension's options (`c.PnavLab.*`), their environment fallbacks, and a load that never
waits for the sidecar on the server's thread."""

from __future__ import annotations

import os
import sys

import pytest
from pnav_lab.serverext import PnavLab
from traitlets.config import Config


@pytest.fixture
def clean_env(monkeypatch):
    for name in [n for n in os.environ if n.startswith('PNAV_')]:
        monkeypatch.delenv(name)
    for name in ('PNAV_SIDECAR_URL', 'PNAV_SIDECAR_TOKEN'):  # the extension sets them: restore afterwards
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    return monkeypatch


def test_options_come_from_jupyter_config(clean_env):
    config = Config()
    config.PnavLab.start_sidecar = False
    config.PnavLab.sidecar_command = ['pnav', 'sidecar']
    config.PnavLab.runtime_dir = '/srv/run'
    config.PnavLab.data_dir = '/srv/data'
    config.PnavLab.proxy_timeout_s = 5.0
    options = PnavLab(config=config)
    assert (options.start_sidecar, options.sidecar_command, options.runtime_dir, options.data_dir) == (
        False,
        ['pnav', 'sidecar'],
        '/srv/run',
        '/srv/data',
    )
    assert options.proxy_timeout_s == 5.0


def test_environment_is_the_fallback_and_config_wins(clean_env):
    assert PnavLab().start_sidecar is True
    clean_env.setenv('PNAV_NO_SIDECAR_START', '1')
    assert PnavLab().start_sidecar is False
    config = Config()
    config.PnavLab.start_sidecar = True
    assert PnavLab(config=config).start_sidecar is True


def test_every_option_says_what_it_does():
    for name, trait in PnavLab.class_traits(config=True).items():
        assert trait.help, name


@pytest.fixture
def gate(tmp_path):
    return tmp_path / 'gate'


@pytest.fixture
def jp_server_config(clean_env, tmp_path, gate):
    # A "sidecar" that waits for the test to open the gate, then fails: the load must not wait for it.
    script = f'import os, sys, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.05)\nsys.exit(3)'
    return {
        'ServerApp': {'jpserver_extensions': {'pnav_lab': True}},
        'PnavLab': {
            'sidecar_command': [sys.executable, '-c', script],
            'runtime_dir': str(tmp_path / 'runtime'),
            'data_dir': str(tmp_path / 'data'),
        },
    }


async def test_load_wires_without_waiting_for_the_sidecar(jp_serverapp, gate, tmp_path):
    manager = jp_serverapp.web_app.settings['pnav_sidecar_manager']
    assert (manager.command[0], manager.runtime_dir, manager.data_dir) == (
        sys.executable,
        tmp_path / 'runtime',
        str(tmp_path / 'data'),
    )
    # The server is up and serving while the sidecar it started has not answered yet.
    assert not manager.first_look_done.is_set()
    gate.touch()
    assert manager.first_look_done.wait(30)
    assert manager.endpoint is None
    assert 'exited with status 3' in manager.error
    assert f'--data-dir {tmp_path / "data"}' in manager.error  # the configured data dir reaches the sidecar
