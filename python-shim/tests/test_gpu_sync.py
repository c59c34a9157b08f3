"""Queued GPU work is waited for before a run or epoch closes, through frameworks already imported, never imported here."""

from __future__ import annotations

import sys
import types

import pytest
from pnav_lab import gpu_sync
from pnav_lab.run import ActiveRun


class RecordingClient:
    def __init__(self, calls):
        self.calls = calls

    def close_epoch(self, run_id, index, n_batch):
        self.calls.append('close_epoch')

    def open_epoch(self, run_id, index):
        self.calls.append('open_epoch')

    def count_batches(self, run_id, n):
        pass

    def close_run(self, run_id, body):
        self.calls.append('close_run')
        return {'run': {'id': run_id}, 'csv': None, 'upload': None}


def fake_torch(calls, initialised=True, devices=2):
    torch = types.ModuleType('torch')
    torch.cuda = types.SimpleNamespace(
        is_initialized=lambda: initialised,
        device_count=lambda: devices,
        synchronize=lambda device: calls.append(f'synchronize cuda:{device}'),
    )
    return torch


@pytest.fixture
def calls(monkeypatch):
    recorded: list[str] = []
    for name in ('torch', 'cupy', 'jax', 'jax._src.xla_bridge'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return recorded


def test_torch_with_cuda_initialised_is_synchronised_before_the_epoch_and_the_run_close(calls, monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch', fake_torch(calls))
    run = ActiveRun(RecordingClient(calls), {'id': 'r'})
    run.epoch_start()
    run.close()
    assert calls == [
        'open_epoch',
        'synchronize cuda:0',
        'synchronize cuda:1',
        'close_epoch',
        'synchronize cuda:0',
        'synchronize cuda:1',
        'close_run',
    ]


def test_nothing_happens_without_a_framework_or_before_cuda_is_initialised(calls, monkeypatch):
    assert gpu_sync.synchronize() == []
    monkeypatch.setitem(sys.modules, 'torch', fake_torch(calls, initialised=False))
    assert gpu_sync.synchronize() == []
    assert 'cupy' not in sys.modules and 'jax' not in sys.modules  # never imported by us
    assert calls == []


def test_no_sync_opts_out(calls, monkeypatch):
    monkeypatch.setitem(sys.modules, 'torch', fake_torch(calls))
    ActiveRun(RecordingClient(calls), {'id': 'r'}, sync_gpu=False).close()
    assert calls == ['close_run']


def test_a_failing_device_is_one_warning_and_the_close_still_happens(calls, monkeypatch):
    torch = fake_torch(calls)

    def broken(device):
        raise RuntimeError('CUDA error: an illegal memory access was encountered')

    torch.cuda.synchronize = broken
    monkeypatch.setitem(sys.modules, 'torch', torch)
    with pytest.warns(UserWarning, match='could not wait for queued GPU work .*illegal memory access'):
        ActiveRun(RecordingClient(calls), {'id': 'r'}).close()
    assert calls == ['close_run']


def test_cupy_and_jax_only_when_they_hold_gpu_work(calls, monkeypatch):
    cupy = types.ModuleType('cupy')
    used = {'bytes': 0}
    cupy.get_default_memory_pool = lambda: types.SimpleNamespace(used_bytes=lambda: used['bytes'])
    cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(deviceSynchronize=lambda: calls.append('cupy')))
    monkeypatch.setitem(sys.modules, 'cupy', cupy)
    assert gpu_sync.synchronize() == []
    used['bytes'] = 1024
    assert gpu_sync.synchronize() == ['cupy']

    jax = types.ModuleType('jax')
    array = types.SimpleNamespace(block_until_ready=lambda: calls.append('jax array'))
    jax.live_arrays = lambda: [array]
    bridge = types.ModuleType('jax._src.xla_bridge')
    bridge._backends = {}
    monkeypatch.setitem(sys.modules, 'jax', jax)
    monkeypatch.setitem(sys.modules, 'jax._src.xla_bridge', bridge)
    assert gpu_sync.synchronize() == ['cupy']
    bridge._backends = {'cuda': object()}
    assert gpu_sync.synchronize() == ['cupy', 'jax']
    assert calls == ['cupy', 'cupy', 'cupy', 'jax array']
