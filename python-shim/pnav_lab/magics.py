"""`%%pnav` (one measured run per cell) and `%pnav <command>` (status, runs, export, upload, config)."""

from __future__ import annotations

import asyncio
import warnings

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from . import cell_body, cell_options, context, line_commands
from . import run as _run
from .client import shared_client
from .decorator import report_outcome
from .errors import PnavError, PnavWarning
from .model_facts import model_facts
from .summary import prints_summary, summary_line


def _execution_count(shell, outer_result) -> int:
    """The In[N] of the calling cell (IPython 9 increments the shell's counter before running it)."""
    count = getattr(outer_result, 'execution_count', None)
    return count if isinstance(count, int) else shell.execution_count


def _refuse_top_level_await() -> None:
    """Inside a running event loop (ipykernel), a magic cannot run an async body to completion."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # plain IPython runs it on its loop runner
    raise UsageError(
        '%%pnav cannot run a cell with top-level await in this kernel; measure it with '
        '`with pnav_lab.EmissionsTracker(): ...` in a normal cell instead'
    )


def _fail_calling_cell(outer_result, error: BaseException) -> None:
    """The magic itself returns normally: mark the calling cell failed so the kernel replies status
    'error' and "Run All" stops, without showing the traceback twice."""
    if outer_result is not None:
        outer_result.error_in_exec = error


@magics_class
class PnavMagics(Magics):
    def __init__(self, shell, client=None):
        super().__init__(shell)
        self._client = client

    @property
    def client(self):
        return self._client if self._client is not None else shared_client()

    @line_cell_magic
    def pnav(self, line, cell=None):
        """%%pnav [options]: measure a cell. %pnav status|runs|export|upload|config: see `%pnav --help`."""
        if cell is None:
            return line_commands.dispatch(self, line)
        return self._measure_cell(line, cell)

    # ------------------------------------------------------------------ the cell magic

    def _warn(self, message: str) -> None:
        warnings.warn(f'pnav: {message}', PnavWarning, stacklevel=2)

    def _open(self, run_fields: dict, outer_result, sync_gpu: bool = True) -> _run.ActiveRun | None:
        cell_id = getattr(getattr(outer_result, 'info', None), 'cell_id', None)
        body = context.run_origin(
            'cell', shell=self.shell, cell_id=cell_id, execution_count=_execution_count(self.shell, outer_result)
        )
        body.update(run_fields)
        try:
            # Sent without waiting for the answer: the body runs while the sidecar opens the run.
            run = self.client.send_open_run(body)
        except PnavError as error:
            self._warn(f'this cell is not measured: {error}')
            return None
        except Exception as error:
            self._warn(f'this cell is not measured: {type(error).__name__}: {error}')
            return None
        return _run.ActiveRun(
            self.client, run, n_epoch=body.get('nEpoch'), n_batch=body.get('nBatch'), sync_gpu=sync_gpu
        )

    def _measure_cell(self, line: str, cell: str):
        shell = self.shell
        outer_result = shell.displayhook.exec_result  # the ExecutionResult of the cell that called us
        if cell_options.wants_help(line):
            print(cell_options.usage())
            return None
        args = cell_options.parse(line)  # UsageError: one line, the cell does not run
        run_fields = cell_options.open_request(args)  # validated before anything runs
        submit = cell_options.submit_request(args)
        cell_options.check_output_dir(args)
        number = _execution_count(shell, outer_result)
        source = cell_body.body_source(line, cell)
        codes = error = None
        if 'await' in cell or 'async' in cell:  # refused before anything is opened (see below)
            codes, error = cell_body.prepare(shell, source, number)
            if error is None and cell_body.needs_event_loop(codes):
                _refuse_top_level_await()
        if 'label' not in run_fields:
            # Without --label the run is named by its first line, so the CSV, the panel and
            # `pnav measure` all show the same thing.
            first = next((ln.strip() for ln in cell.splitlines() if ln.strip()), '')
            if first:
                run_fields['label'] = first[:80]

        # The open is sent first and the body compiled while the sidecar handles it; its answer is read
        # before the body runs, so the measured window holds the whole body.
        active = self._open(run_fields, outer_result, sync_gpu=not args.no_sync)
        try:
            if codes is None:
                codes, error = cell_body.prepare(shell, source, number)
            if active is not None:
                active.run  # noqa: B018 -- the open's answer (a failed open warns once)
                if not active.opened:
                    active = None
            if active is not None:
                _run.push(active)
            if error is None:  # a body that does not compile is recorded as a failed run
                error = cell_body.run(shell, codes)
        except KeyboardInterrupt as interrupt:  # arrived outside the user's code, between our calls
            if active is not None:
                _run.pop(active)
                active.close('interrupted', error='KeyboardInterrupt', output=cell_options.csv_output(args))
            raise interrupt
        finally:
            if active is not None:
                _run.pop(active)
        if active is not None:
            self._close(active, args, cell_options.csv_output(args), error, submit)
        if error is not None:
            _fail_calling_cell(outer_result, error)
        return None

    def _close(self, active: _run.ActiveRun, args, output, error, submit=None) -> None:
        if args.model:
            value = self.shell.user_ns.get(args.model)
            facts = model_facts(value)
            if facts is None:
                what = (
                    'is not defined'
                    if args.model not in self.shell.user_ns
                    else f'is a {type(value).__name__}, not a model pnav recognises'
                )
                active.warn(f'--model {args.model} {what}; model facts left empty.')
            active.set_model(facts)
        if error is None:
            status, message = 'ok', None
        elif isinstance(error, KeyboardInterrupt):
            status, message = 'interrupted', 'KeyboardInterrupt'
        else:
            status, message = 'error', f'{type(error).__name__}: {error}'
        close = {'error': message, 'output': output, 'submit': submit, 'record_failed': args.record_failed}
        try:
            response = active.close(status, **close)
        except KeyboardInterrupt:
            response = active.close(status, **close)
        # Under JupyterLab with PNAV Lab the line under the cell shows these figures already.
        if response is not None and not args.quiet and prints_summary():
            print(summary_line(response['run']))
        if response is not None:
            report_outcome(self.client, response)


def load_ipython_extension(shell) -> None:
    """`%load_ext pnav_lab`; loading twice registers the magics once and says nothing.

    Also binds `pnav_lab` in the notebook, so `pnav_lab.epochs(...)` works without an import, unless the
    user already has a variable of that name.
    """
    import sys

    user_ns = getattr(shell, 'user_ns', None)
    if isinstance(user_ns, dict):
        user_ns.setdefault('pnav_lab', sys.modules[__package__])
    if getattr(shell, '_pnav_lab_magics', None) is not None:
        return
    magics = PnavMagics(shell)
    shell.register_magics(magics)
    shell._pnav_lab_magics = magics


def unload_ipython_extension(shell) -> None:
    magics = getattr(shell, '_pnav_lab_magics', None)
    if magics is not None:
        shell.magics_manager.magics['line'].pop('pnav', None)
        shell.magics_manager.magics['cell'].pop('pnav', None)
        shell._pnav_lab_magics = None
