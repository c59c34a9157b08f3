"""Marking epochs and counting batches from user code: `epochs()`, `epoch()`, `epoch_start()`,
`epoch_end()`, `batch()`. Outside a run they do nothing and say so once."""

from __future__ import annotations

import warnings
from contextlib import contextmanager

from . import run as _run
from .errors import PnavWarning

_said_outside = False


def _active():
    active = _run.current()
    if active is None:
        global _said_outside
        if not _said_outside:
            _said_outside = True
            warnings.warn(
                'pnav: no measurement run is open (use %%pnav or @track_emissions); epoch and batch marks are ignored.',
                PnavWarning,
                stacklevel=4,
            )
    return active


def epoch_start() -> None:
    """Starts an epoch of the current run (ends the open one first)."""
    active = _active()
    if active is not None:
        active.epoch_start()


def epoch_end() -> None:
    """Ends the open epoch of the current run."""
    active = _active()
    if active is not None:
        active.epoch_end()


def batch(n: int = 1) -> None:
    """Counts `n` batches; counts are buffered and sent at epoch end, run close or once a second."""
    active = _active()
    if active is not None:
        active.batch(n)


@contextmanager
def epoch():
    """`with pnav_lab.epoch(): ...` measures the block as one epoch."""
    epoch_start()
    try:
        yield
    finally:
        active = _run.current()
        if active is not None:
            active.epoch_end()


class epochs:  # noqa: N801 - reads like a function at the call site: `for x in pnav_lab.epochs(range(10))`
    """Wraps an iterable; each iteration is one epoch. Keeps `len()` for progress bars."""

    def __init__(self, iterable):
        self._iterable = iterable

    def __len__(self):
        return len(self._iterable)

    def __iter__(self):
        for item in self._iterable:
            epoch_start()
            try:
                yield item
            finally:
                # Also on `break` (GeneratorExit): the epoch's work happened.
                active = _run.current()
                if active is not None:
                    active.epoch_end()
