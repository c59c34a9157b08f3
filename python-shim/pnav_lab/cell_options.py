"""The options of `%%pnav`, named after calculadorapnav's parameters, and their translation to an OpenRunRequest."""

from __future__ import annotations

import os

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from . import validation
from .errors import PnavValidationError


@magic_arguments()
@argument(
    '--type',
    dest='type_process',
    metavar='training|inference',
    help="What the cell does: 'training' or 'inference' (calculadorapnav's type_process).",
)
@argument('--epochs', type=int, metavar='N', help='Number of epochs (n_epoch) when they are not marked in code.')
@argument('--batches', type=int, metavar='N', help='Number of batches (n_batch) when they are not counted in code.')
@argument('--model', metavar='VAR', help='Variable of the notebook holding the model (PyTorch, Keras, scikit-learn).')
@argument('--model-id', metavar='HASH', help='PNAV model id: 64 lowercase hexadecimal characters.')
@argument(
    '--endpoint',
    metavar='URL',
    help='Submit this run to the PNAV API at URL (default: PNAV_ENDPOINT_URL when --token-env is given).',
)
@argument(
    '--token-env',
    metavar='NAME',
    help='Name of the environment variable holding the PNAV token (default PNAV_TOKEN); never the token itself.',
)
@argument('--offline', action='store_true', help='Submit nothing, whatever the other options say.')
@argument(
    '--record-failed',
    action='store_true',
    help='Write the CSV row (and submit) even if the cell raises or is interrupted.',
)
@argument('--country', metavar='ISO3', help='Country of the grid, ISO 3166-1 alpha-3 (e.g. ESP).')
@argument('--region', help='Region within the country (reported only, as in calculadorapnav).')
@argument('--cloud-provider', metavar='NAME', help='Cloud provider (aws, azure, gcp, ...).')
@argument('--cloud-region', metavar='NAME', help='Cloud region (e.g. europe-west1).')
@argument('--pue', type=float, help='Power usage effectiveness of the data centre, 1..3 (default 1).')
@argument('--type-ram', metavar='DDR3|DDR4|DDR5', help='RAM type written to the CSV (default DDR4).')
@argument('--components', metavar='cpu,gpu,ram', help='Components counted by this run (default: all).')
@argument('--gpu-ids', metavar='0,1', help='GPU indexes to count (default: CUDA_VISIBLE_DEVICES, else all).')
@argument('--output-dir', metavar='DIR', help="Directory of the CSV (default: the kernel's working directory).")
@argument('--output-file', metavar='FILE', help='CSV file name (default: emissions_<type>.csv).')
@argument('--on-csv-write', metavar='append|update', help="CSV write mode: 'append' (default) or 'update'.")
@argument('--no-save', action='store_true', help='Do not write the CSV row.')
@argument(
    '--label',
    action='append',
    metavar='TEXT|KEY=VALUE',
    help='A label for the run (free text), or KEY=VALUE labels; may be repeated.',
)
@argument('--quiet', action='store_true', help='Do not print the summary line.')
@argument(
    '--no-sync',
    action='store_true',
    help='Do not wait for queued GPU work (torch, cupy, jax already imported) before the run and its epochs close.',
)
def pnav_cell(line, cell):
    """%%pnav [options] — measure the energy and CO2 of this cell as one run.

    The cell body runs exactly as without the magic. Mark epochs with
    `for x in pnav_lab.epochs(...)`, `with pnav_lab.epoch():`, or a framework callback,
    and count batches with `pnav_lab.batch()`.
    """


pnav_cell.parser.prog = '%pnav'  # the help formatter adds one more '%': `%%pnav`
pnav_cell.parser.description = (
    'Measures the energy and CO2 of this cell as one run. The body runs exactly as without the magic. '
    'Mark epochs with `for x in pnav_lab.epochs(...)`, `with pnav_lab.epoch():` or a framework callback, '
    'count batches with `pnav_lab.batch()`.'
)


def usage() -> str:
    return pnav_cell.parser.format_help()


_parsed: dict = {}


def parse(line: str):
    """The parsed options, or UsageError (one line) on an invalid option. Cached: notebooks repeat lines."""
    cached = _parsed.get(line)
    if cached is not None:
        return cached
    try:
        args = parse_argstring(pnav_cell, line)
        if len(_parsed) < 256:
            _parsed[line] = args
        return args
    except UsageError:
        raise
    except SystemExit:  # argparse exits on some errors
        raise UsageError(f'invalid %%pnav options: {line!r}') from None


def wants_help(line: str) -> bool:
    return any(token in ('-h', '--help') for token in line.split())


def open_request(args) -> dict:
    """The run-describing fields of the OpenRunRequest; UsageError names the bad option."""
    body: dict = {}
    try:
        if args.type_process is not None:
            body['typeProcess'] = validation.type_process(args.type_process, '--type')
        if args.epochs is not None:
            body['nEpoch'] = validation.count(args.epochs, '--epochs')
        if args.batches is not None:
            body['nBatch'] = validation.count(args.batches, '--batches')
        if args.model_id is not None:
            # Offline any text is written as calculadorapnav writes it; online submit_request() requires the hash.
            body['modelId'] = validation.lenient_model_id(args.model_id, '--model-id')
        if args.country is not None:
            body['country'] = validation.country_iso3(args.country, '--country')
        if args.region is not None:
            body['region'] = args.region
        if args.cloud_provider is not None:
            body['cloudProvider'] = args.cloud_provider
        if args.cloud_region is not None:
            body['cloudRegion'] = args.cloud_region
        if args.pue is not None:
            body['pue'] = validation.lenient_pue(args.pue, '--pue')
        if args.type_ram is not None:
            body['typeRam'] = validation.type_ram(args.type_ram, '--type-ram')
        if args.components is not None:
            body['components'] = validation.components(args.components, '--components')
        # Without --gpu-ids the sidecar decides from configuration, then the CUDA_VISIBLE_DEVICES we pass in `env`.
        if args.gpu_ids is not None:
            body['gpuIds'] = validation.gpu_ids(args.gpu_ids, '--gpu-ids')
        if args.on_csv_write is not None:
            validation.on_csv_write(args.on_csv_write, '--on-csv-write')
        label, labels = validation.labels(args.label, '--label')
        if label:
            body['label'] = label
        if labels:
            body['labels'] = labels
    except PnavValidationError as error:
        raise UsageError(f'%%pnav {error}') from None
    return body


def submit_request(args) -> dict | None:
    """The close request's `submit` (endpoint, token, model id), or None for an offline cell. Checked before the
    cell runs: PNAV would refuse a bad token or model id, so nothing is sent then. The token is read from the
    environment variable named by --token-env (default PNAV_TOKEN), so it never appears in the notebook."""
    if args.offline or (args.endpoint is None and args.token_env is None):
        return None
    try:
        endpoint = validation.endpoint_url(args.endpoint or os.environ.get('PNAV_ENDPOINT_URL'), '--endpoint')
        model_id = validation.model_id(args.model_id or os.environ.get('PNAV_MODEL_ID'), '--model-id')
        name = args.token_env or 'PNAV_TOKEN'
        if name not in os.environ:
            raise PnavValidationError('--token-env', f'the environment variable {name} is not set')
        token = validation.token(os.environ[name], '--token-env')
    except PnavValidationError as error:
        raise UsageError(f'%%pnav {error}') from None
    return {'endpointUrl': endpoint, 'token': token, 'modelId': model_id}


def check_output_dir(args) -> None:
    if args.output_dir is not None and not os.path.isdir(os.path.expanduser(args.output_dir)):
        raise UsageError(f"%%pnav --output-dir: folder '{args.output_dir}' doesn't exist")


def csv_output(args) -> dict | None:
    """The close request's `output`, or None with --no-save. Directory: --output-dir, else the configured
    one (settings; the sidecar applies it, relative to the kernel's working directory), else the kernel's
    working directory."""
    if args.no_save:
        return None
    output = {
        'dir': os.path.abspath(os.path.expanduser(args.output_dir or os.getcwd())),
        'onCsvWrite': args.on_csv_write or 'append',
    }
    if args.output_dir is None:
        output['dirIsFallback'] = True
    if args.output_file:
        output['file'] = args.output_file
    return output
