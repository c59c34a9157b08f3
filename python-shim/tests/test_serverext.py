"""The server extension in a real Jupyter server (pytest-jupyter): proxy HTTP and WebSocket, auth, start/stop."""

from __future__ import annotations

import json
import os
import shlex
import signal
import time

import pytest
from conftest import SIDECAR_CLI, make_fake_sysfs
from pnav_lab import discovery
from pnav_lab.serverext import SidecarManager
from tornado.httpclient import HTTPClientError


@pytest.fixture
def jp_server_config(sidecar, monkeypatch):
    for name in [n for n in os.environ if n.startswith('PNAV_')]:
        monkeypatch.delenv(name)
    for name in ('PNAV_SIDECAR_URL', 'PNAV_SIDECAR_TOKEN'):  # the extension sets them: restore afterwards
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(sidecar.runtime_dir))
    monkeypatch.setenv('PNAV_SIDECAR_CMD', 'false')
    return {'ServerApp': {'jpserver_extensions': {'pnav_lab': True}}}


async def test_extension_is_enabled_and_hands_the_sidecar_to_kernels(jp_serverapp, sidecar):
    assert jp_serverapp.extension_manager.extensions['pnav_lab'].enabled
    assert jp_serverapp.web_app.settings['pnav_sidecar_manager'].first_look_done.wait(20)
    assert os.environ['PNAV_SIDECAR_URL'] == sidecar.url
    assert os.environ['PNAV_SIDECAR_TOKEN'] == sidecar.token


async def test_http_proxy_adds_the_token_and_keeps_status_body_and_type(jp_fetch, sidecar):
    health = await jp_fetch('pnav', 'healthz')
    assert health.code == 200
    assert json.loads(health.body)['ok'] is True

    created = await jp_fetch(
        'pnav',
        'api',
        'v1',
        'runs',
        method='POST',
        body=json.dumps({'kind': 'manual', 'label': 'via-proxy'}),
        headers={'Content-Type': 'application/json'},
    )
    assert created.code == 201
    run = json.loads(created.body)['run']
    assert run['label'] == 'via-proxy'

    listed = await jp_fetch('pnav', 'api', 'v1', 'runs', params={'status': 'open', 'limit': '5'})
    assert run['id'] in [r['id'] for r in json.loads(listed.body)['runs']]

    patched = await jp_fetch(
        'pnav',
        'api',
        'v1',
        'runs',
        run['id'],
        method='PATCH',
        body=json.dumps({'label': 'renamed'}),
        headers={'Content-Type': 'application/json'},
    )
    assert json.loads(patched.body)['run']['label'] == 'renamed'

    closed = await jp_fetch(
        'pnav',
        'api',
        'v1',
        'runs',
        run['id'],
        'close',
        method='POST',
        body='{}',
        headers={'Content-Type': 'application/json'},
    )
    assert json.loads(closed.body)['run']['status'] == 'ok'

    metrics = await jp_fetch('pnav', 'metrics')
    assert metrics.headers['Content-Type'].startswith('text/plain')


async def test_http_proxy_passes_client_errors_through(jp_fetch):
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch(
            'pnav',
            'api',
            'v1',
            'runs',
            method='POST',
            body=json.dumps({'pue': 0}),
            headers={'Content-Type': 'application/json'},
        )
    assert error.value.code == 400
    envelope = json.loads(error.value.response.body)['error']
    assert envelope['code'] == 'bad_request'
    assert [i['path'] for i in envelope['issues']] == ['pue']
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch('pnav', 'api', 'v1', 'runs', 'no-such-run')
    assert missing.value.code == 404


async def test_proxy_requires_jupyter_auth(jp_fetch):
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch('pnav', 'healthz', headers={'Authorization': 'token not-the-token'})
    assert error.value.code == 403
    with pytest.raises(HTTPClientError) as post:
        await jp_fetch(
            'pnav',
            'api',
            'v1',
            'runs',
            method='POST',
            body='{}',
            headers={'Authorization': 'token not-the-token', 'Content-Type': 'application/json'},
        )
    assert post.value.code == 403


async def test_websocket_proxy_relays_the_stream(jp_ws_fetch, jp_fetch):
    ws = await jp_ws_fetch('pnav', 'api', 'v1', 'stream')
    try:
        hello = json.loads(await ws.read_message())
        assert hello['type'] == 'hello'
        assert 'sources' in hello['status']
        created = await jp_fetch(
            'pnav',
            'api',
            'v1',
            'runs',
            method='POST',
            body=json.dumps({'label': 'ws'}),
            headers={'Content-Type': 'application/json'},
        )
        run_id = json.loads(created.body)['run']['id']
        for _ in range(50):
            message = json.loads(await ws.read_message())
            if message['type'] == 'run' and message['run']['id'] == run_id:
                assert message['event'] == 'opened'
                break
        else:
            pytest.fail('no run event for the new run on the proxied stream')
        await jp_fetch(
            'pnav',
            'api',
            'v1',
            'runs',
            run_id,
            'close',
            method='POST',
            body='{}',
            headers={'Content-Type': 'application/json'},
        )
    finally:
        ws.close()


def test_manager_starts_a_sidecar_and_stops_only_its_own(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith('PNAV_')] + ['PNAV_SIDECAR_URL', 'PNAV_SIDECAR_TOKEN']:
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    runtime = tmp_path / 'runtime'
    sysfs = make_fake_sysfs(tmp_path)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(runtime))
    monkeypatch.setenv(
        'PNAV_SIDECAR_CMD',
        shlex.join(
            [
                'node',
                str(SIDECAR_CLI),
                'sidecar',
                '--port',
                '0',
                '--data-dir',
                str(tmp_path / 'data'),
                '--sysfs-root',
                str(sysfs),
                '--nvidia-smi',
                str(tmp_path / 'none'),
            ]
        ),
    )
    manager = SidecarManager()
    try:
        endpoint = manager.ensure()
        assert endpoint is not None and manager.process is not None
        assert endpoint.pid == manager.process.pid
        assert os.environ['PNAV_SIDECAR_URL'] == endpoint.url
        # A second server finds the running sidecar and does not own it.
        second = SidecarManager()
        assert second.ensure().url == endpoint.url and second.process is None
        second.stop()
        assert discovery.pid_alive(endpoint.pid)
    finally:
        manager.stop()
    assert manager.process is None
    assert not (runtime / discovery.RUNTIME_FILE_NAME).exists()


def test_manager_reaps_a_killed_sidecar_and_starts_another(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith('PNAV_')] + ['PNAV_SIDECAR_URL', 'PNAV_SIDECAR_TOKEN']:
        monkeypatch.setenv(name, '')
        monkeypatch.delenv(name)
    sysfs = make_fake_sysfs(tmp_path)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(tmp_path / 'runtime'))
    monkeypatch.setenv(
        'PNAV_SIDECAR_CMD',
        shlex.join(
            ['node', str(SIDECAR_CLI), 'sidecar', '--port', '0', '--data-dir', str(tmp_path / 'data')]
            + ['--sysfs-root', str(sysfs), '--nvidia-smi', str(tmp_path / 'none')]
        ),
    )
    manager = SidecarManager()
    try:
        first = manager.ensure()
        killed = manager.process
        os.kill(first.pid, signal.SIGKILL)
        for _ in range(500):  # until the kernel has made it a zombie: killed, not yet reaped
            if discovery._is_zombie(first.pid):
                break
            time.sleep(0.01)
        second = manager.ensure()
        assert second is not None and second.pid != first.pid
        assert manager.process is not None and manager.process.pid == second.pid
        assert killed.returncode == -signal.SIGKILL  # reaped: no zombie left behind
        assert not os.path.exists(f'/proc/{first.pid}')
        assert os.environ['PNAV_SIDECAR_URL'] == second.url
    finally:
        manager.stop()


async def test_proxy_answers_502_when_the_sidecar_is_gone(jp_fetch, jp_serverapp, tmp_path, monkeypatch):
    manager = jp_serverapp.web_app.settings['pnav_sidecar_manager']
    assert manager.first_look_done.wait(20)  # the look started at load must not overwrite what this test sets
    monkeypatch.setattr(manager, 'endpoint', discovery.SidecarEndpoint('http://127.0.0.1:9', 'x'))
    monkeypatch.setattr(manager, 'spawn', False)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(tmp_path))  # no runtime file: nothing to fall back to
    monkeypatch.setenv('PNAV_SIDECAR_URL', 'http://127.0.0.1:9')
    with pytest.raises(HTTPClientError) as error:
        await jp_fetch('pnav', 'api', 'v1', 'status')
    assert error.value.code == 502
    envelope = json.loads(error.value.response.body)['error']
    assert envelope == {
        'code': 'sidecar_unavailable',
        'message': 'The PNAV sidecar is not reachable: no sidecar is running',
    }


def test_manager_prefers_the_sidecar_exported_in_the_environment(sidecar, tmp_path, monkeypatch):
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(tmp_path))  # no runtime file here
    monkeypatch.setenv('PNAV_SIDECAR_URL', sidecar.url)
    monkeypatch.setenv('PNAV_SIDECAR_TOKEN', sidecar.token)
    manager = SidecarManager(spawn=False)
    assert manager.ensure().url == sidecar.url
    assert manager.process is None
