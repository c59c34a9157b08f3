"""A drop-in for calculadorapnav's `track_emissions` (change one import line), and a tracker object.

Same parameters (plus the manual's spellings as aliases), same CSV (written by the sidecar on close),
same API submission (queued in the sidecar's durable outbox). As in calculadorapnav:
- validation happens when the decorated function is called, before it runs; an invalid argument raises
  PnavValidationError (also a ValueError) naming the field; never an `input()` prompt;
- a run whose function raises writes no CSV row and submits nothing (the PNAV columns carry no status);
  it stays in the ledger, the panel and the JSON export. `record_failed=True` records it anyway;
- online, the submission's first outcome is awaited (up to the endpoint timeout) and logged: delivered,
  rejected with the server's message and what to fix, or queued for retry / uncertain with its outbox id;
- `log_level` and `logger_preamble` act on the `pnav_lab` logger; a path-like `output_file` is joined to
  `output_dir` as calculadorapnav does; an unknown country falls back to Spain with one warning.
Fixed on the way: a NumPy array / tensor return value is fine (never tested for truthiness); the model is
found in positional args, keyword args and the return value; no framework import, no lock file (nested
and concurrent runs are separate runs).

Parameters with no effect here (accepted so existing code runs): `measure_power_secs` (the sidecar reads
energy counters at open and close, so totals do not depend on it; its live interval is the
`sample_interval_ms` setting), `save_to_logger`, `logging_logger` (no effect in calculadorapnav either),
`default_cpu_power` (the sidecar's `--cpu-tdp` sets the CPU TDP of the estimate), `allow_multiple_runs`
(there is no lock), `instance_id`. Aliases: `n_epochs` → `n_epoch`, `n_batches` → `n_batch`,
`emissions_endpoint` → `endpoint_url`, `experiment_name` / `project_name` → the run's label,
`experiment_id` → label `experiment_id=<value>`.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings
from types import SimpleNamespace

from . import context, log, submission, validation
from . import run as _run
from .client import shared_client
from .contract import LABEL_TEXT_MAX_LENGTH, LABEL_VALUE_MAX_LENGTH
from .errors import PnavError, PnavValidationError, PnavWarning
from .model_facts import find_model
from .summary import summary_line


class _Unset:
    def __repr__(self):
        return '<unset>'


UNSET = _Unset()


class TrackerSettings:
    """Validated, translated settings of one decorator or tracker.

    `arguments` uses `track_emissions`'s parameter names (its signature is the one declaration of
    them); a name left out takes that signature's default.
    """

    def __init__(self, arguments: dict, *, require_location: bool = True):
        unknown = set(arguments) - set(PARAMETER_DEFAULTS)
        values = {**PARAMETER_DEFAULTS, **{k: v for k, v in arguments.items() if k not in unknown}}
        args = SimpleNamespace(**values)

        def given(value):
            return value is not UNSET

        def alias(primary, secondary, primary_name, secondary_name):
            if given(primary) and given(secondary) and primary != secondary:
                raise PnavValidationError(secondary_name, f'conflicts with {primary_name}; give one of them')
            return primary if given(primary) else secondary

        args.n_batch = alias(args.n_batch, args.n_batches, 'n_batch', 'n_batches')
        args.n_epoch = alias(args.n_epoch, args.n_epochs, 'n_epoch', 'n_epochs')
        args.endpoint_url = alias(args.endpoint_url, args.emissions_endpoint, 'endpoint_url', 'emissions_endpoint')

        self.type_process = validation.type_process(args.type_process)
        self.offline = args.offline is True
        self.quiet = args.quiet
        self.record_failed = args.record_failed is True
        self.wait_for_outcome = args.wait_for_outcome is not False
        self.log_level = (
            validation.log_level(args.log_level) if given(args.log_level) and args.log_level is not None else None
        )
        self.logger_preamble = (
            str(args.logger_preamble) if given(args.logger_preamble) and args.logger_preamble is not None else None
        )
        self.request: dict = {'typeProcess': self.type_process}
        if given(args.type_ram):
            self.request['typeRam'] = validation.type_ram(args.type_ram)
        if given(args.on_csv_write):
            validation.on_csv_write(args.on_csv_write)
        self.on_csv_write = args.on_csv_write if given(args.on_csv_write) else 'append'
        self.n_batch = (
            validation.lenient_count(args.n_batch, 'n_batch')
            if given(args.n_batch) and args.n_batch is not None
            else None
        )
        self.n_epoch = (
            validation.lenient_count(args.n_epoch, 'n_epoch')
            if given(args.n_epoch) and args.n_epoch is not None
            else None
        )
        if self.n_batch is not None:
            self.request['nBatch'] = self.n_batch
        if self.n_epoch is not None:
            self.request['nEpoch'] = self.n_epoch
        if given(args.pue) and args.pue is not None:
            self.request['pue'] = validation.lenient_pue(args.pue)
            if isinstance(args.pue, int):
                self.request['pueIsInt'] = True  # written `1`, not `1.0`, as calculadorapnav writes it
        # Without gpu_ids the sidecar decides from configuration, then CUDA_VISIBLE_DEVICES (sent in `env`).
        if given(args.gpu_ids) and args.gpu_ids is not None:
            self.request['gpuIds'] = validation.gpu_ids(args.gpu_ids)
        if given(args.components) and args.components is not None:
            self.request['components'] = validation.components(args.components)

        has_country = given(args.country_iso_code) and args.country_iso_code is not None
        has_cloud = isinstance(args.cloud_provider, str) and isinstance(args.cloud_region, str)
        if self.offline and require_location and not has_country and not has_cloud:
            raise PnavValidationError(
                'country_iso_code',
                "when offline is True, give 'country_iso_code' (3 uppercase letters, e.g. ESP) or both "
                "'cloud_provider' and 'cloud_region'",
            )
        if has_country:
            self.request['country'] = validation.country_iso3(args.country_iso_code)
        for key, value in (
            ('region', args.region),
            ('cloudProvider', args.cloud_provider),
            ('cloudRegion', args.cloud_region),
        ):
            if isinstance(value, str) and value:
                # calculadorapnav lower-cases the region; the sidecar does too.
                self.request[key] = value.lower() if key != 'cloudRegion' else value

        self.submit = None
        if not self.offline:
            args.model_id = validation.model_id(args.model_id if given(args.model_id) else None)
            args.endpoint_url = validation.endpoint_url(args.endpoint_url if given(args.endpoint_url) else None)
            raw_token = args.token if given(args.token) and args.token is not None else os.environ.get('PNAV_TOKEN')
            self.submit = {
                'endpointUrl': args.endpoint_url,
                'token': validation.token(raw_token),
                'modelId': args.model_id,
            }
            if validation.insecure_endpoint_allowed():  # PNAV_ALLOW_INSECURE_ENDPOINT=1, checked just above too
                self.submit['allowInsecureEndpoint'] = True
            self.request['modelId'] = args.model_id
        elif given(args.model_id) and args.model_id is not None:
            # Offline calculadorapnav writes any model_id; PNAV would refuse it online, so say so once.
            self.request['modelId'] = validation.lenient_model_id(args.model_id)

        label_parts = [
            str(v) for v in (args.experiment_name, args.project_name, args.label) if given(v) and v is not None
        ]
        if label_parts:
            self.request['label'] = ' '.join(label_parts)[:LABEL_TEXT_MAX_LENGTH]
        if given(args.experiment_id) and args.experiment_id is not None:
            self.request['labels'] = {'experiment_id': str(args.experiment_id)[:LABEL_VALUE_MAX_LENGTH]}

        self.save_to_file = args.save_to_file is not False if given(args.save_to_file) else True
        self.output_dir = os.fspath(args.output_dir) if given(args.output_dir) and args.output_dir is not None else None
        self.output_file = (
            os.fspath(args.output_file) if given(args.output_file) and args.output_file is not None else None
        )

    def check_output_dir(self) -> None:
        """calculadorapnav's check, before the function runs."""
        if (
            self.save_to_file
            and self.output_dir is not None
            and not os.path.isdir(os.path.expanduser(str(self.output_dir)))
        ):
            raise OSError(f"Folder '{self.output_dir}' doesn't exist !")
        output = self.csv_output() if self.output_file is not None else None
        if output is not None and not os.path.isdir(output['dir']):
            raise OSError(f"Folder '{output['dir']}' doesn't exist !")

    def csv_output(self, configured_dir: str | None = None) -> dict | None:
        if not self.save_to_file:
            return None
        directory = os.path.abspath(os.path.expanduser(str(self.output_dir or configured_dir or os.getcwd())))
        output = {'dir': directory, 'onCsvWrite': self.on_csv_write}
        if self.output_file:
            # calculadorapnav writes to os.path.join(output_dir, output_file): a path-like name (sub/x.csv, or an
            # absolute path) moves the file, and its folder must exist as output_dir must.
            full = os.path.join(directory, os.path.expanduser(self.output_file))
            output['dir'], output['file'] = os.path.dirname(full) or directory, os.path.basename(full)
        return output

    def apply_logging(self) -> None:
        if self.log_level is not None or self.logger_preamble is not None:
            log.configure(self.log_level, self.logger_preamble)


class _Tracking:
    """One measured window from settings already validated: what the tracker and the decorator share."""

    def __init__(self, settings: TrackerSettings, client=None, kind: str = 'manual'):
        self.settings = settings
        self._client = client
        self._kind = kind
        self.active: _run.ActiveRun | None = None
        self.response: dict | None = None
        self.final_emissions = None

    @property
    def client(self):
        if self._client is None:
            self._client = shared_client()
        return self._client

    def start(self) -> None:
        if self.active is not None:
            return
        self.response = None
        self.settings.check_output_dir()
        self.settings.apply_logging()
        body = context.run_origin(self._kind)
        body.update(self.settings.request)
        try:
            run = self.client.open_run(body)
        except PnavError as error:
            warnings.warn(f'pnav: not measured: {error}', PnavWarning, stacklevel=3)
            return
        _warn_country_fallback(body.get('country'), run.get('location') or {})
        self.active = _run.ActiveRun(self.client, run, n_epoch=self.settings.n_epoch, n_batch=self.settings.n_batch)
        _run.push(self.active)

    def set_model(self, model) -> None:
        facts = find_model((model,))
        if self.active is not None and facts is not None:
            self.active.set_model(facts)

    model = property(fset=set_model, doc='Assign a model object to record its facts.')

    def stop(self, status: str = 'ok', error: str | None = None):
        active, self.active = self.active, None
        if active is None:
            return None
        _run.pop(active)
        output = self.settings.csv_output(active.run.get('outputDir'))
        self.response = active.close(
            status, error=error, output=output, submit=self.settings.submit, record_failed=self.settings.record_failed
        )
        if self.response is None:
            return None
        report_outcome(self.client, self.response, wait=self.settings.wait_for_outcome)
        run = self.response['run']
        if not self.settings.quiet:
            print(summary_line(run), file=sys.stderr)
        self.final_emissions = run['emissionsG'] / 1000.0
        return self.final_emissions

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop('ok')
        elif issubclass(exc_type, KeyboardInterrupt):
            self.stop('interrupted', 'KeyboardInterrupt')
        else:
            self.stop('error', f'{exc_type.__name__}: {exc}')
        return False


class EmissionsTracker(_Tracking):
    """`tracker.start()` / `tracker.stop()` or `with EmissionsTracker(...) as tracker:`, with
    `track_emissions`'s parameters (`type_process` defaults to 'training' here).

    `stop()` returns the run's emissions in kg CO2eq (as CodeCarbon does) or None when not measured.
    `tracker.model = m` (or `tracker.set_model(m)`) records the model's facts.
    """

    def __init__(self, *, client=None, **parameters):
        parameters.setdefault('type_process', 'training')
        require_location = True
        if not any(k in parameters for k in ('offline', 'token', 'endpoint_url', 'emissions_endpoint')):
            # No submission details: measure locally; the country comes from configuration when not given.
            parameters['offline'] = True
            require_location = False
        super().__init__(TrackerSettings(parameters, require_location=require_location), client, 'manual')


def OfflineEmissionsTracker(**parameters):  # noqa: N802 - calculadorapnav's class name
    return EmissionsTracker(offline=True, **parameters)


def _warn_country_fallback(requested: str | None, location: dict) -> None:
    """calculadorapnav falls back to Spain for a country it has no data for, and logs it: one warning here."""
    if requested and location.get('countryIso3') and location['countryIso3'] != requested:
        if location.get('countrySource') == 'default':
            warnings.warn(
                f'pnav: no emission factors for country_iso_code {requested!r}; Spain (ESP) is used, '
                'as calculadorapnav does',
                PnavWarning,
                stacklevel=4,
            )


def report_outcome(client, response: dict, *, wait: bool = True) -> None:
    """Logs what became of the run's PNAV outputs: not recorded (a failed run), or the submission's outcome."""
    logger = log.get_logger()
    if response.get('notRecorded'):
        logger.info('%s', response['notRecorded'].replace('recordFailed', 'record_failed=True'))
    upload = response.get('upload')
    if not upload:
        return
    if wait:
        upload = submission.wait_for_outcome(client, upload['id']) or upload
    level, message = submission.describe(upload)
    getattr(logger, level)('%s', message)


def _wrap(fn, arguments: dict):
    def open_tracker():
        # Validated at each call, before the function runs, as calculadorapnav does.
        tracker = _Tracking(TrackerSettings(arguments), kind='function')
        tracker.start()
        return tracker

    def finish(tracker, args, kwargs, result, error):
        if tracker.active is not None:
            facts = find_model(args, kwargs, result)
            if facts is not None:
                tracker.active.set_model(facts)
        if error is None:
            tracker.stop('ok')
        elif isinstance(error, KeyboardInterrupt):
            tracker.stop('interrupted', 'KeyboardInterrupt')
        else:
            tracker.stop('error', f'{type(error).__name__}: {error}')

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            tracker = open_tracker()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as error:
                finish(tracker, args, kwargs, None, error)
                raise
            finish(tracker, args, kwargs, result, None)
            return result

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        tracker = open_tracker()
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            finish(tracker, args, kwargs, None, error)
            raise
        finish(tracker, args, kwargs, result, None)
        return result

    return wrapper


def track_emissions(
    fn=None,
    *,
    token=UNSET,
    model_id=UNSET,
    endpoint_url=UNSET,
    type_process: str = '',
    type_ram=UNSET,
    n_batch=UNSET,
    n_epoch=UNSET,
    measure_power_secs=UNSET,
    output_dir=UNSET,
    output_file=UNSET,
    save_to_file=UNSET,
    save_to_logger=UNSET,
    logging_logger=UNSET,
    offline=UNSET,
    gpu_ids=UNSET,
    log_level=UNSET,
    on_csv_write=UNSET,
    logger_preamble=UNSET,
    default_cpu_power=UNSET,
    pue=UNSET,
    country_iso_code=UNSET,
    allow_multiple_runs=UNSET,
    region=UNSET,
    cloud_provider=UNSET,
    cloud_region=UNSET,
    n_epochs=UNSET,
    n_batches=UNSET,
    experiment_id=UNSET,
    experiment_name=UNSET,
    instance_id=UNSET,
    emissions_endpoint=UNSET,
    project_name=UNSET,
    components=UNSET,
    label=UNSET,
    record_failed: bool = False,
    wait_for_outcome: bool = True,
    quiet: bool = True,
):
    """calculadorapnav's decorator. Bare `@track_emissions` fails like calculadorapnav's (type_process is ''),
    when the function is called. `record_failed=True` writes and submits failed runs too; `wait_for_outcome=False`
    returns without waiting for the submission's first outcome.

    This signature declares the parameters of the decorator and of `EmissionsTracker`.
    """
    arguments = {name: value for name, value in locals().items() if name != 'fn'}
    if fn is not None:
        return _wrap(fn, arguments)
    return lambda function: _wrap(function, arguments)


# The parameters and their defaults, read from `track_emissions`'s signature (declared there only).
PARAMETER_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(track_emissions).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
}
