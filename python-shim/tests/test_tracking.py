"""epochs() / epoch() / epoch_start() / epoch_end() / batch(), inside and outside a run."""

from __future__ import annotations

import warnings

import pnav_lab
import pytest
from pnav_lab import EmissionsTracker, tracking
from pnav_lab.errors import PnavWarning


def test_outside_a_run_they_do_nothing_and_say_so_once(monkeypatch):
    monkeypatch.setattr(tracking, '_said_outside', False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert list(pnav_lab.epochs([1, 2])) == [1, 2]
        with pnav_lab.epoch():
            pass
        pnav_lab.epoch_start()
        pnav_lab.batch(3)
        pnav_lab.epoch_end()
    messages = [str(w.message) for w in caught if issubclass(w.category, PnavWarning)]
    assert messages == [
        'pnav: no measurement run is open (use %%pnav or @track_emissions); epoch and batch marks are ignored.'
    ]


def test_epochs_keeps_len_for_progress_bars():
    assert len(pnav_lab.epochs(range(7))) == 7
    with pytest.raises(TypeError):
        len(pnav_lab.epochs(iter([1])))


def test_epoch_forms_inside_a_run(sidecar_env):
    with EmissionsTracker(type_process='training') as tracker:
        for _ in pnav_lab.epochs(range(2)):
            pnav_lab.batch()
        with pnav_lab.epoch():
            pnav_lab.batch(5)
        pnav_lab.epoch_start()
        pnav_lab.epoch_start()  # starting a new epoch ends the open one
        pnav_lab.epoch_end()
    run = tracker.response['run']
    assert [e['nBatch'] for e in run['epochs']] == [1, 1, 5, 0, 0]
    assert [e['status'] for e in run['epochs']] == ['ok'] * 5
    assert run['batchesCounted'] == 7


def test_break_out_of_epochs_closes_the_epoch(sidecar_env):
    with EmissionsTracker(type_process='training') as tracker:
        for index in pnav_lab.epochs(range(10)):
            if index == 2:
                break
    assert [e['status'] for e in tracker.response['run']['epochs']] == ['ok'] * 3


def test_batches_are_buffered_not_sent_one_by_one(sidecar_env, monkeypatch):
    with EmissionsTracker(type_process='training') as tracker:
        sent = []
        original = tracker.active.client.count_batches
        monkeypatch.setattr(
            tracker.active.client, 'count_batches', lambda run_id, n: sent.append(n) or original(run_id, n)
        )
        for _ in range(1000):
            pnav_lab.batch()
    assert sent == [1000]
    assert tracker.response['run']['batchesCounted'] == 1000
