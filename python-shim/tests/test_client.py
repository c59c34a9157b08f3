"""The sidecar client against a real sidecar: requests, typed errors, timeouts, reconnects."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest
from conftest import start_sidecar
from pnav_lab.client import SidecarClient
from pnav_lab.discovery import SidecarEndpoint
from pnav_lab.errors import SidecarRequestError, SidecarUnavailable


def test_requests_round_trip(client):
    assert client.healthz()['ok'] is True
    run = client.open_run({'kind': 'manual', 'label': 'client-test'})
    assert run['status'] == 'open'
    assert client.open_epoch(run['id'], 0)['index'] == 0
    client.count_batches(run['id'], 3)
    assert client.close_epoch(run['id'], 0, 3)['nBatch'] == 3
    closed = client.close_run(run['id'], {'status': 'ok'})
    assert closed['run']['status'] == 'ok'
    assert closed['run']['batchesCounted'] == 3
    assert client.close_run(run['id'], {'status': 'ok'})['run']['id'] == run['id']  # closing twice is harmless


def test_error_envelope_becomes_a_typed_error_naming_the_field(client):
    with pytest.raises(SidecarRequestError) as error:
        client.open_run({'pue': 0})
    assert error.value.status == 400
    assert error.value.code == 'bad_request'
    assert error.value.issues[0]['path'] == 'pue'
    assert 'pue: ' in str(error.value)


def test_a_wrong_token_is_never_sent_the_sidecar_cannot_prove_it(sidecar):
    bad = SidecarClient(SidecarEndpoint(sidecar.url, '0' * 64), start=False)
    with pytest.raises(SidecarUnavailable) as error:
        bad.status()
    assert (
        f'NotTheSidecar: the process at {sidecar.url} did not prove it is the PNAV sidecar '
        '(it answered 200 without the proof); its token was not sent'
    ) in str(error.value)


def test_a_sidecar_that_never_answers_times_out_quickly(monkeypatch, tmp_path):
    monkeypatch.delenv('PNAV_SIDECAR_URL', raising=False)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(tmp_path))
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(8)  # accepts connections, never answers
    try:
        url = f'http://127.0.0.1:{listener.getsockname()[1]}'
        client = SidecarClient(SidecarEndpoint(url, 'x'), start=False, timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(SidecarUnavailable, match='^The PNAV sidecar stopped answering'):
            client.status()
        assert time.monotonic() - started < 5
    finally:
        listener.close()


def test_reconnects_to_a_restarted_sidecar_found_in_the_runtime_file(tmp_path, monkeypatch):
    monkeypatch.delenv('PNAV_SIDECAR_URL', raising=False)
    monkeypatch.delenv('PNAV_SIDECAR_TOKEN', raising=False)
    monkeypatch.setenv('PNAV_SIDECAR_CMD', 'false')
    first = start_sidecar(tmp_path)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(first.runtime_dir))
    client = SidecarClient()
    assert client.endpoint.url == first.url
    assert client.healthz()['ok']
    first.stop()
    second = start_sidecar(tmp_path)
    try:
        assert second.url != first.url or second.token != first.token
        assert client.healthz()['ok']  # re-discovered on the connection error
        assert client.endpoint.url == second.url
    finally:
        second.stop()


def test_kept_alive_connection_survives_the_servers_idle_timeout(client):
    client.healthz()
    time.sleep(5.5)  # longer than Node's 5 s keep-alive timeout
    assert client.healthz()['ok']


def test_client_is_thread_safe(client):
    run = client.open_run({'kind': 'manual'})
    errors = []

    def count():
        try:
            for _ in range(20):
                client.count_batches(run['id'], 1)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=count) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert client.close_run(run['id'], {})['run']['batchesCounted'] == 80


def test_a_call_in_the_middle_of_a_run_never_starts_a_sidecar(tmp_path, monkeypatch):
    marker = tmp_path / 'started'
    monkeypatch.delenv('PNAV_SIDECAR_URL', raising=False)
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(tmp_path))
    monkeypatch.setenv('PNAV_SIDECAR_CMD', f'touch {marker}')
    client = SidecarClient(SidecarEndpoint('http://127.0.0.1:9', 'x'))
    with pytest.raises(SidecarUnavailable, match='No running PNAV sidecar answers'):
        client.count_batches('some-run', 1)
    assert not marker.exists()
    with pytest.raises(SidecarUnavailable):
        client.open_run({})  # opening a run may start one (this command exits at once)
    assert marker.exists()


def test_an_open_sent_ahead_is_answered_with_the_next_request_under_the_id_the_client_chose(client):
    pending = client.send_open_run({'kind': 'manual', 'label': 'ahead'})
    assert uuid.UUID(pending.run_id).version == 4
    assert client.healthz()['ok'] is True  # the open's answer is read first, in order
    run = pending.result()
    assert (run['id'], run['status'], run['label']) == (pending.run_id, 'open', 'ahead')
    assert client.close_run(run['id'], {'status': 'ok'})['run']['status'] == 'ok'


def test_a_refused_open_sent_ahead_raises_when_its_answer_is_read(client):
    pending = client.send_open_run({'pue': 0})
    with pytest.raises(SidecarRequestError) as error:
        pending.result()
    assert (error.value.status, error.value.issues[0]['path']) == (400, 'pue')


def test_a_client_chosen_id_that_exists_is_a_conflict(client):
    run = client.open_run({'kind': 'manual'})
    with pytest.raises(SidecarRequestError) as error:
        client.open_run({'kind': 'manual', 'id': run['id']})
    assert (error.value.status, error.value.code) == (409, 'conflict')
    assert str(error.value) == f'run {run["id"]} already exists; a client-chosen id must be new'
    with pytest.raises(SidecarRequestError) as error:
        client.open_run({'kind': 'manual', 'id': 'not-a-uuid'})
    assert (error.value.status, error.value.issues[0]['path']) == (400, 'id')


def test_an_open_whose_answer_was_lost_is_found_under_its_id_not_opened_twice(client):
    pending = client.send_open_run({'kind': 'manual', 'label': 'lost answer'})
    time.sleep(0.5)  # the sidecar opens it and answers ...
    client.close()  # ... and the answer is lost with the connection
    run = pending.result()  # sent again: 409, so the first open got through, and the run is fetched
    assert (run['id'], run['label'], run['status']) == (pending.run_id, 'lost answer', 'open')
    assert len([r for r in client.list_runs(status='open') if r['id'] == pending.run_id]) == 1
    client.close_run(run['id'], {})


def test_loopback_urls_only():
    from pnav_lab.peer import loopback_url_problem

    for url in ('http://127.0.0.1:8', 'http://localhost:9/x', 'http://[::1]:7', 'http://127.1.2.3:5'):
        assert loopback_url_problem(url) is None
    assert loopback_url_problem('http://10.0.0.7:8') == "'http://10.0.0.7:8' is not a loopback address"
    assert loopback_url_problem('https://127.0.0.1:8') == "'https://127.0.0.1:8' is not an http:// URL"


def test_the_socket_owner_is_read_from_proc_net_tcp():
    from pnav_lab.peer import peer_uid

    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    try:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        expected = os.getuid() if os.path.exists('/proc/net/tcp') else None
        assert peer_uid(client) == expected
        client.close()
        accepted.close()
    finally:
        listener.close()
