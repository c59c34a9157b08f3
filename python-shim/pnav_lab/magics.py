"""`%%pnav` (one measured run per cell) and `%pnav <command>` (status, runs, export, upload, config)."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from contextlib import contextmanager

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from . import cell_options, context, line_commands
from . import run as _run
from .client import shared_client
from .errors import PnavError, PnavWarning
from .model_facts import model_facts
from .summary import summary_line


def _accepts(function, name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _cell_source(line: str, cell: str) -> str:
    """The body, with a comment standing in for the `%%pnav` line so traceback line numbers match the cell."""
    if cell.lstrip().startswith('%%'):
        return cell  # a nested cell magic must stay on the first line
    return f'# %%pnav {line}'.rstrip() + '\n' + cell


def _execution_count(shell, outer_result) -> int:
    """The In[N] of the calling cell (IPython 9 increments the shell's counter before running it)."""
    count = getattr(outer_result, 'execution_count', None)
    return count if isinstance(count, int) else shell.execution_count


@contextmanager
def _traceback_names_cell(shell, number: int):
    """Tracebacks of the body say `Cell In[N]` with the calling cell's N, not the next one."""
    compiler = getattr(shell, 'compile', None)
    original = getattr(compiler, 'cache', None)
    if original is None:
        yield
        return

    def cache(transformed_code, _number=0, raw_code=None):
        return original(transformed_code, number, raw_code)

    compiler.cache = cache
    try:
        yield
    finally:
        if compiler.__dict__.get('cache') is cache:
            del compiler.cache


@contextmanager
def _semicolon_sees_body(shell, cell: str):
    """`x;` at the end of the body hides the value as it would without the magic: IPython's displayhook
    looks for the `;` in the last parsed history entry, which is the `%%pnav` call, not the body."""
    history = getattr(getattr(shell, 'history_manager', None), 'input_hist_parsed', None)
    lines = [line for line in cell.splitlines() if line.strip()]
    if not isinstance(history, list) or not lines or ';' not in lines[-1]:
        yield
        return
    history.append(cell)
    try:
        yield
    finally:
        if history and history[-1] is cell:
            history.pop()


def _refuse_top_level_await(shell, cell: str) -> None:
    """Inside a running event loop (ipykernel), IPython cannot run an async body from a magic."""
    if 'await' not in cell and 'async' not in cell:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # plain IPython runs it in a loop of its own
    try:
        needs_loop = shell.should_run_async(
            cell, transformed_cell=shell.transform_cell(cell), preprocessing_exc_tuple=None
        )
    except Exception:
        return
    if needs_loop:
        raise UsageError(
            '%%pnav cannot run a cell with top-level await in this kernel; measure it with '
            '`with pnav_lab.EmissionsTracker(): ...` in a normal cell instead'
        )


@magics_class
class PnavMagics(Magics):
    def __init__(self, shell, client=None):
        super().__init__(shell)
        self._client = client
        self._run_cell_takes_cell_id = _accepts(shell.run_cell, 'cell_id')

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

    def _open(self, run_fields: dict, outer_result) -> _run.ActiveRun | None:
        cell_id = getattr(getattr(outer_result, 'info', None), 'cell_id', None)
        body = context.run_origin(
            'cell', shell=self.shell, cell_id=cell_id, execution_count=_execution_count(self.shell, outer_result)
        )
        body.update(run_fields)
        try:
            run = self.client.open_run(body)
        except PnavError as error:
            self._warn(f'this cell is not measured: {error}')
            return None
        except Exception as error:
            self._warn(f'this cell is not measured: {type(error).__name__}: {error}')
            return None
        return _run.ActiveRun(self.client, run, n_epoch=body.get('nEpoch'), n_batch=body.get('nBatch'))

    def _measure_cell(self, line: str, cell: str):
        shell = self.shell
        outer_result = shell.displayhook.exec_result  # the ExecutionResult of the cell that called us
        if cell_options.wants_help(line):
            print(cell_options.usage())
            return None
        args = cell_options.parse(line)  # UsageError: one line, the cell does not run
        _refuse_top_level_await(shell, cell)
        run_fields = cell_options.open_request(args)  # validated before anything runs
        cell_options.check_output_dir(args)
        if 'label' not in run_fields:
            # Without --label the run is named by its first line, so the CSV, the panel and
            # `pnav measure` all show the same thing.
            first = next((ln.strip() for ln in cell.splitlines() if ln.strip()), '')
            if first:
                run_fields['label'] = first[:80]

        active = self._open(run_fields, outer_result)
        output = cell_options.csv_output(args, active.run.get('outputDir') if active is not None else None)
        if active is not None:
            _run.push(active)
        run_kwargs = {'store_history': False}
        cell_id = getattr(getattr(outer_result, 'info', None), 'cell_id', None)
        if self._run_cell_takes_cell_id and cell_id is not None:
            run_kwargs['cell_id'] = cell_id
        inner_result = None
        try:
            with _traceback_names_cell(shell, _execution_count(shell, outer_result)), _semicolon_sees_body(shell, cell):
                inner_result = shell.run_cell(_cell_source(line, cell), **run_kwargs)
        except KeyboardInterrupt as interrupt:  # arrived outside the user's code, between our calls
            if active is not None:
                _run.pop(active)
                active.close('interrupted', error='KeyboardInterrupt', output=output)
            raise interrupt
        finally:
            if active is not None:
                _run.pop(active)
            shell.displayhook.exec_result = outer_result

        error = (
            inner_result.error_before_exec if inner_result.error_before_exec is not None else inner_result.error_in_exec
        )
        if active is not None:
            self._close(active, args, output, error)
        if error is not None and outer_result is not None:
            # The magic itself returned normally: mark the calling cell failed so the kernel replies
            # status 'error' and "Run All" stops, without showing the traceback twice.
            outer_result.error_in_exec = error
        return None

    def _close(self, active: _run.ActiveRun, args, output, error) -> None:
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
        try:
            response = active.close(status, error=message, output=output)
        except KeyboardInterrupt:
            response = active.close(status, error=message, output=output)
        if response is not None and not args.quiet:
            print(summary_line(response['run']))


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
