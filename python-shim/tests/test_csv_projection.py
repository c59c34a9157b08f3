"""The CSV row as a projection of the ledger, against real sidecar processes: the close records the row
it owes, the row is in the file when the close is answered, and a sidecar killed before the row reached
the disk writes it when it starts again."""

from __future__ import annotations

import os
import signal
import time

from conftest import start_sidecar
from pnav_lab.client import SidecarClient
from pnav_lab.discovery import SidecarEndpoint


def client_of(sidecar) -> SidecarClient:
    return SidecarClient(SidecarEndpoint(sidecar.url, sidecar.token), start=False)


def data_rows(path) -> list[str]:
    return path.read_text().splitlines()[1:]


def test_the_row_is_in_the_file_when_the_close_is_answered_and_the_debt_clears_once_synced(private_sidecar, tmp_path):
    client = client_of(private_sidecar)
    out = tmp_path / 'out'
    out.mkdir()
    for n in range(1, 4):
        run = client.open_run({'kind': 'cell', 'typeProcess': 'inference'})
        answer = client.close_run(run['id'], {'status': 'ok', 'output': {'dir': str(out)}})
        assert answer['csv'] == {
            'path': str(out / 'emissions_inference.csv'),
            'epochsPath': None,
            'methodsPath': str(out / 'emissions_inference_methods.csv'),
            'error': None,
        }
        assert len(data_rows(out / 'emissions_inference.csv')) == n
    deadline = time.monotonic() + 10
    while client.get_run(run['id']).get('csvPending') and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 'csvPending' not in client.get_run(run['id'])


def test_a_row_owed_when_the_sidecar_was_killed_is_written_when_it_starts_again(tmp_path):
    root = tmp_path / 'sidecar'
    first = start_sidecar(root)
    out = tmp_path / 'out'
    out.mkdir()
    target = out / 'emissions_training.csv'
    target.mkdir()  # the row cannot be written (EISDIR): the state a crash right after the close leaves
    try:
        client = client_of(first)
        run = client.open_run({'kind': 'cell', 'label': 'owed'})
        answer = client.close_run(run['id'], {'status': 'ok', 'output': {'dir': str(out)}})
        assert answer['run']['status'] == 'ok'
        assert answer['csv']['path'] is None
        assert answer['csv']['error'].endswith('(the row is kept and written when the sidecar restarts)')
        assert client.get_run(run['id'])['csvPending'] == {'dir': str(out), 'onCsvWrite': 'append'}
        os.kill(first.pid, signal.SIGKILL)
        first.process.wait(10)
    finally:
        first.stop()
    target.rmdir()
    (first.runtime_dir / 'pnav-sidecar.json').unlink()  # the killed one's: wait for the new one's
    second = start_sidecar(root)  # same data dir: the ledger still owes the row
    try:
        rows = data_rows(target)
        assert len(rows) == 1 and ',training,' in rows[0]
        assert 'csvPending' not in client_of(second).get_run(run['id'])
    finally:
        second.stop()
    (first.runtime_dir / 'pnav-sidecar.json').unlink(missing_ok=True)
    third = start_sidecar(root)  # nothing owed any more: no second row
    try:
        assert len(data_rows(target)) == 1
    finally:
        third.stop()
