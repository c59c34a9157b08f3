"""One open measurement run as the kernel sees it: epochs, buffered batch counts, model facts, close.

Everything here is best effort: a sidecar error turns the run into a no-op and produces one warning,
never an exception in the user's code.
"""

from __future__ import annotations

import threading
import time
import warnings

from . import gpu_sync
from .errors import PnavError, PnavWarning, SidecarUnavailable

# Batch counts are sent at most this often (and at epoch end / run close) to keep overhead low.
BATCH_FLUSH_INTERVAL_S = 1.0
# A sidecar that stopped answering mid-run may be restarted (JupyterLab does it within seconds) and
# keeps the run open: calls in between are skipped, then tried again after this long.
LOST_RETRY_S = 1.0


class ActiveRun:
    """`run`: the opened run, or a PendingOpen whose answer is read when first needed (a cell's body runs
    meanwhile)."""

    def __init__(self, client, run, *, n_epoch: int | None = None, n_batch: int | None = None, sync_gpu: bool = True):
        self.client = client
        self.sync_gpu = sync_gpu
        self._run: dict | None = run if isinstance(run, dict) else None
        self._pending = None if isinstance(run, dict) else run
        self.id = run['id'] if isinstance(run, dict) else run.run_id
        self.opened = True
        self.n_epoch_given = n_epoch
        self.n_batch_given = n_batch
        self.model: dict | None = None
        self.broken = False
        self._warned = False
        self._lock = threading.RLock()
        self._open_epoch: int | None = None
        self._next_epoch = 0
        self._epoch_batches = 0
        self._pending_batches = 0
        self._total_batches = 0
        self._last_flush = time.monotonic()
        # The warning for a sidecar that stopped answering, given only if it has not come back by the close.
        self._lost: str | None = None
        self._retry_at = 0.0
        close_unreachable(client)

    @property
    def run(self) -> dict:
        """The run as the sidecar opened it; a failed open warns once and makes the run a no-op."""
        if self._run is None:
            try:
                self._run = self._pending.result()
            except Exception as error:
                self._run, self.opened, self.broken = {'id': self.id}, False, True
                self.warn(f'this cell is not measured: {_describe(error)}')
        return self._run

    # ------------------------------------------------------------------ failure handling

    def warn(self, message: str) -> None:
        """One warning per run, whatever goes wrong afterwards."""
        if not self._warned:
            self._warned = True
            warnings.warn(f'pnav: {message}', PnavWarning, stacklevel=3)

    def _call(self, what: str, fn, *args, **kwargs):
        if self._run is None:
            self.run  # noqa: B018 -- the open's answer decides whether there is a run to talk about
        if self.broken or (what != 'close' and time.monotonic() < self._retry_at):
            return None
        try:
            result = fn(*args, **kwargs)
            self._lost, self._retry_at = None, 0.0
            return result
        except SidecarUnavailable as error:
            # Not a warning yet: a restarted sidecar continues this run, and the close says what happened.
            self._lost = f'measurement stopped ({what}): {error}. Your code keeps running.'
            self._retry_at = time.monotonic() + LOST_RETRY_S
        except PnavError as error:
            self.broken = True
            self.warn(f'measurement stopped ({what}): {error}. Your code keeps running.')
        except Exception as error:  # our bug must not break the user's loop
            self.broken = True
            self.warn(f'measurement stopped ({what}): {type(error).__name__}: {error}. Your code keeps running.')
        return None

    def _sync_gpu(self) -> None:
        """Queued GPU work first, so it lands in this window (torch/cupy/jax already imported and on the GPU)."""
        if not self.sync_gpu:
            return
        try:
            gpu_sync.synchronize()
        except Exception as error:  # a failing device must not break the user's code
            self.warn(
                f'could not wait for queued GPU work ({type(error).__name__}: {error}); it may count in the next cell.'
            )

    # ------------------------------------------------------------------ epochs and batches

    @property
    def epochs_marked(self) -> int:
        return self._next_epoch

    @property
    def batches_counted(self) -> int:
        return self._total_batches

    def epoch_start(self) -> None:
        with self._lock:
            if self._open_epoch is not None:
                self.epoch_end()
            index = self._next_epoch
            self._next_epoch += 1
            self._open_epoch = index
            self._epoch_batches = 0
            self._call('epoch start', self.client.open_epoch, self.id, index)

    def epoch_end(self) -> None:
        with self._lock:
            if self._open_epoch is None:
                return
            index, self._open_epoch = self._open_epoch, None
            self._sync_gpu()
            self.flush_batches()
            self._call('epoch end', self.client.close_epoch, self.id, index, self._epoch_batches)

    def batch(self, n: int = 1) -> None:
        with self._lock:
            self._pending_batches += n
            self._epoch_batches += n
            self._total_batches += n
            if time.monotonic() - self._last_flush >= BATCH_FLUSH_INTERVAL_S:
                self.flush_batches()

    def flush_batches(self) -> None:
        with self._lock:
            self._last_flush = time.monotonic()
            if self._pending_batches <= 0:
                return
            n, self._pending_batches = self._pending_batches, 0
            while n > 0:  # the API takes at most 1e6 per call
                chunk = min(n, 1_000_000)
                if self._call('batch count', self.client.count_batches, self.id, chunk) is None and not self.broken:
                    self._pending_batches += n  # the sidecar is away: counted again once it is back
                    return
                n -= chunk

    def set_model(self, facts: dict | None) -> None:
        if facts is not None:
            self.model = facts

    # ------------------------------------------------------------------ close

    def close(
        self,
        status: str = 'ok',
        *,
        error: str | None = None,
        output: dict | None = None,
        submit: dict | None = None,
        record_failed: bool = False,
    ) -> dict | None:
        """Closes the run; returns the CloseRunResponse, or None when the sidecar could not be reached."""
        with self._lock:
            if status == 'ok' and self._open_epoch is not None:
                self.epoch_end()
            self._sync_gpu()
            self.flush_batches()
            body: dict = {'status': status}
            if error:
                body['error'] = error[:2000]
            n_epoch = self.n_epoch_given if self.n_epoch_given is not None else self._next_epoch
            n_batch = self.n_batch_given if self.n_batch_given is not None else self._total_batches
            if n_epoch:
                body['nEpoch'] = n_epoch
            if n_batch:
                body['nBatch'] = n_batch
            if self.model is not None:
                body['model'] = self.model
            if output is not None:
                body['output'] = output
            if submit is not None:
                body['submit'] = submit
            if record_failed:
                body['recordFailed'] = True
            if self._run is None:
                self.run  # noqa: B018 -- read the open's answer first
            if not self.opened:
                return None
            if self.broken:
                # Try the close anyway: the sidecar may be back, and the row must not be lost.
                self.broken = False
            return self._closed(self._call('close', self.client.close_run, self.id, body))

    def _closed(self, response: dict | None) -> dict | None:
        if response is None and self._lost:
            self.warn(self._lost)
            # A sidecar started later continues this run while the kernel lives: close it at the next chance.
            with _stack_lock:
                _unreachable.append(self.id)
        restarts = (response or {}).get('run', {}).get('sidecarRestarts')
        if restarts:
            self.warn(
                f'the PNAV sidecar restarted during this run and the run continued; '
                f'{restarts["unmeasuredS"]:.1f} s between its last checkpoint and the restart are not measured.'
            )
        if response is not None:
            global _last_closed
            _last_closed = response
            problems = output_problems(response)
            if problems:
                self.warn('; '.join(problems))
        return response


def _describe(error: BaseException) -> str:
    return str(error) if isinstance(error, PnavError) else f'{type(error).__name__}: {error}'


def output_problems(response: dict) -> list[str]:
    """What a close could not do, for one warning: the CSV row, the PNAV submission."""
    problems = []
    csv = response.get('csv') or {}
    if csv.get('error'):
        problems.append(f'the CSV row was not written: {csv["error"]}')
    if response.get('uploadError'):  # absent from older sidecars
        problems.append(f'the PNAV submission was not queued: {response["uploadError"]}')
    return problems


# ---------------------------------------------------------------------- the current run

_stack: list[ActiveRun] = []
_last_closed: dict | None = None
_opened_ids: list[str] = []
_stack_lock = threading.Lock()
# Runs whose close found no sidecar: closed as interrupted by the next run this process opens.
_unreachable: list[str] = []
LATE_CLOSE_ERROR = 'no sidecar answered when this run ended; it was closed at the next run, so its end is late'


def close_unreachable(client) -> None:
    """Best effort and quiet: the run a restarted sidecar kept open must not run on until the kernel exits."""
    with _stack_lock:
        pending, _unreachable[:] = list(_unreachable), []
    for run_id in pending:
        try:
            client.close_run(run_id, {'status': 'interrupted', 'error': LATE_CLOSE_ERROR})
        except SidecarUnavailable:
            with _stack_lock:
                _unreachable.append(run_id)  # still away: try again with the next run
        except Exception:  # noqa: S110 -- another sidecar that never knew the run (404): nothing to close
            pass


def current() -> ActiveRun | None:
    return _stack[-1] if _stack else None


def push(run: ActiveRun) -> None:
    with _stack_lock:
        _stack.append(run)
        _opened_ids.append(run.id)


def opened_ids() -> list[str]:
    """Ids of the runs this process opened, oldest first: what `%pnav runs` lists where no notebook is known."""
    return list(_opened_ids)


def pop(run: ActiveRun) -> None:
    with _stack_lock:
        if run in _stack:
            _stack.remove(run)


def last_closed() -> dict | None:
    """The CloseRunResponse `{run, csv, upload}` of the last run this process closed."""
    return _last_closed
