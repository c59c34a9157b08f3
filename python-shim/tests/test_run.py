"""ActiveRun.close against a real sidecar: what the close could not do reaches the user as one warning."""

from __future__ import annotations

import warnings

from pnav_lab.errors import PnavWarning
from pnav_lab.run import ActiveRun

SUBMIT = {'endpointUrl': 'http://127.0.0.1:9/api/pnav', 'modelId': 'a' * 64}


def pnav_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, PnavWarning)]


def close_recording(run: ActiveRun, **kwargs) -> tuple[dict | None, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        response = run.close(**kwargs)
    return response, pnav_warnings(caught)


def test_upload_error_of_the_close_is_one_warning(client):
    run = ActiveRun(client, client.open_run({'kind': 'function'}))
    response, messages = close_recording(run, submit={**SUBMIT, 'token': 'not-a-token'})
    assert response is not None and response['run']['status'] == 'ok'
    assert messages == [
        'pnav: the PNAV submission was not queued: could not queue the PNAV submission: invalid PNAV submission: '
        'token: must be 64 hexadecimal characters (upper case and spaces are normalised)'
    ]
    assert 'not-a-token' not in messages[0]


def test_csv_error_and_upload_error_together_are_still_one_warning(client, tmp_path):
    run = ActiveRun(client, client.open_run({'kind': 'function'}))
    missing = tmp_path / 'missing'
    _, messages = close_recording(run, output={'dir': str(missing)}, submit={**SUBMIT, 'token': 'x'})
    assert len(messages) == 1
    assert messages[0].startswith(f"pnav: the CSV row was not written: output directory '{missing}' does not exist; ")
    assert 'the PNAV submission was not queued: ' in messages[0]
    assert not missing.exists()


def test_no_warning_when_the_close_did_everything(client):
    run = ActiveRun(client, client.open_run({'kind': 'function'}))
    response, messages = close_recording(run, submit={**SUBMIT, 'token': 'b' * 64})
    assert response is not None
    assert response['uploadError'] is None
    assert response['upload']['status'] in ('queued', 'sending', 'retrying')
    assert messages == []
