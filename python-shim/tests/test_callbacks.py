"""Framework callbacks: lazy, clear when the framework is missing, and marking epochs when it is present."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pnav_lab
import pytest

FRAMEWORKS = {
    'keras': ('keras', 'Keras'),
    'lightning': ('lightning', 'PyTorch Lightning'),
    'huggingface': ('transformers', 'Hugging Face transformers'),
}


@pytest.mark.parametrize('module', sorted(FRAMEWORKS))
def test_importing_the_module_imports_no_framework(module):
    before = set(sys.modules)
    importlib.import_module(f'pnav_lab.{module}')
    assert not {'torch', 'tensorflow', 'keras', 'lightning', 'pytorch_lightning', 'transformers'} & (
        set(sys.modules) - before
    )


@pytest.mark.parametrize('module', sorted(FRAMEWORKS))
def test_using_the_class_without_the_framework_says_what_to_install(module, monkeypatch):
    framework, label = FRAMEWORKS[module]
    if importlib.util.find_spec(framework) is not None:
        pytest.skip(f'{framework} is installed: the missing-framework message cannot be tested here (SKIPPED)')
    loaded = importlib.import_module(f'pnav_lab.{module}')
    monkeypatch.setattr(loaded, '_class', None)
    with pytest.raises(ImportError, match=f'^pnav_lab.{module}.PnavCallback needs {label}'):
        loaded.PnavCallback  # noqa: B018


def test_keras_callback_marks_epochs_and_batches(sidecar_env):
    keras = pytest.importorskip('keras', reason='Keras not installed: Keras callback test SKIPPED')
    import numpy as np
    from pnav_lab import EmissionsTracker
    from pnav_lab.keras import PnavCallback

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer='sgd', loss='mse')
    with EmissionsTracker(type_process='training') as tracker:
        model.fit(np.zeros((8, 4)), np.zeros((8, 2)), epochs=2, batch_size=4, verbose=0, callbacks=[PnavCallback()])
    run = tracker.response['run']
    assert len(run['epochs']) == 2 and run['batchesCounted'] == 4
    assert run['model']['nParameters'] == 10 and run['model']['nFeatures'] == [4]


def test_lazy_attributes_of_the_package():
    assert pnav_lab.keras.__name__ == 'pnav_lab.keras'
    with pytest.raises(AttributeError):
        pnav_lab.not_a_thing  # noqa: B018
