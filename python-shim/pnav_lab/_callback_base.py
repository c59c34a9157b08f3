"""What every framework callback does: mark epochs, count batches, record model facts."""

from __future__ import annotations

import importlib
import sys

from . import run as _run
from . import tracking
from .model_facts import model_facts


def load_framework(candidates: tuple[str, ...], what: str, install: str):
    """The first importable module among `candidates` (already-imported ones first), or a clear ImportError."""
    for name in candidates:
        if name in sys.modules:
            return sys.modules[name]
    errors = []
    for name in candidates:
        try:
            return importlib.import_module(name)
        except ImportError as error:
            errors.append(f'{name}: {error}')
    raise ImportError(
        f'{what} needs {install}; none of {", ".join(candidates)} could be imported ({"; ".join(errors)})'
    )


def lazy_callback_getattr(namespace: dict, build):
    """The `__getattr__` of a framework module (pass its `globals()`): builds `PnavCallback` on first use,
    importing the framework then rather than on import, and caches it in the module's `_class`."""
    namespace.setdefault('_class', None)

    def __getattr__(name):
        if name == 'PnavCallback':
            if namespace['_class'] is None:
                namespace['_class'] = build()
            return namespace['_class']
        raise AttributeError(f'module {namespace["__name__"]!r} has no attribute {name!r}')

    return __getattr__


class CallbackActions:
    """Mixed into each framework's callback class."""

    def _pnav_model(self, model) -> None:
        active = _run.current()
        if active is not None and model is not None:
            active.set_model(model_facts(model))

    def _pnav_epoch_start(self) -> None:
        tracking.epoch_start()

    def _pnav_epoch_end(self) -> None:
        tracking.epoch_end()

    def _pnav_batch(self, n: int = 1) -> None:
        tracking.batch(n)
