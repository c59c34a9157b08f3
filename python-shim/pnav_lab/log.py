"""pnav_lab's logger, shaped like calculadorapnav's: `[pnav_lab INFO @ 10:42:07] message` on stderr.

`log_level` and `logger_preamble` of the decorator act on it, as they act on calculadorapnav's logger.
"""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = 'pnav_lab'
LEVELS = ('debug', 'info', 'warning', 'error', 'critical')

logger = logging.getLogger(LOGGER_NAME)


def _formatter(preamble: str) -> logging.Formatter:
    prefix = f'[%(name)s %(levelname)s @ %(asctime)s]{f" [{preamble}]" if preamble else ""}'
    return logging.Formatter(f'{prefix} %(message)s', datefmt='%H:%M:%S')


class _StderrHandler(logging.StreamHandler):
    """Writes to the sys.stderr of the moment: a kernel or a test may replace it after the first log line."""

    _pnav_lab = True

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def _handler() -> logging.Handler:
    for handler in logger.handlers:
        if getattr(handler, '_pnav_lab', False):
            return handler
    handler = _StderrHandler()
    handler.setFormatter(_formatter(''))
    logger.addHandler(handler)
    logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    return handler


def configure(level: str | None = None, preamble: str | None = None) -> logging.Logger:
    """Applies calculadorapnav's `log_level` ('debug'..'critical') and `logger_preamble`; None leaves each as is."""
    handler = _handler()
    if level is not None:
        logger.setLevel(getattr(logging, level.upper()))
    if preamble is not None:
        handler.setFormatter(_formatter(preamble))
    return logger


def get_logger() -> logging.Logger:
    _handler()
    return logger
