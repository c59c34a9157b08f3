"""PNAV Lab in Jupyter: `%load_ext pnav_lab`, then `%%pnav` measures a cell.

Importing this package is cheap and never imports a machine-learning framework or IPython;
submodules load on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ._version import __version__
from .errors import (
    NodeMissing,
    PnavError,
    PnavValidationError,
    PnavWarning,
    SidecarRequestError,
    SidecarStartFailed,
    SidecarUnavailable,
)
from .tracking import batch, epoch, epoch_end, epoch_start, epochs

__all__ = [
    '__version__',
    'last_run',
    'batch',
    'epoch',
    'epoch_end',
    'epoch_start',
    'epochs',
    'track_emissions',
    'EmissionsTracker',
    'OfflineEmissionsTracker',
    'PnavError',
    'PnavValidationError',
    'PnavWarning',
    'SidecarUnavailable',
    'SidecarRequestError',
    'SidecarStartFailed',
    'NodeMissing',
    'load_ipython_extension',
]

_LAZY = {
    'track_emissions': ('.decorator', 'track_emissions'),
    'EmissionsTracker': ('.decorator', 'EmissionsTracker'),
    'OfflineEmissionsTracker': ('.decorator', 'OfflineEmissionsTracker'),
}
_LAZY_MODULES = ('keras', 'lightning', 'huggingface', 'client', 'serverext', 'magics')


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module, __name__), attr)
    if name in _LAZY_MODULES:
        return importlib.import_module(f'.{name}', __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def last_run() -> dict | None:
    """The last run this kernel closed, as the sidecar returned it (`{run, csv, upload}`), or None."""
    from .run import last_closed

    return last_closed()


def load_ipython_extension(shell) -> None:
    from .magics import load_ipython_extension as load

    load(shell)


def unload_ipython_extension(shell) -> None:
    from .magics import unload_ipython_extension as unload

    unload(shell)


def _jupyter_server_extension_points():
    return [{'module': 'pnav_lab.serverext'}]


def _jupyter_labextension_paths():
    return [{'src': str(Path(__file__).parent / 'labextension'), 'dest': 'pnav-lab-labextension'}]
