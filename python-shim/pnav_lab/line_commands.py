"""`%pnav status | runs | export | upload | config`, each with --help."""

from __future__ import annotations

import getpass
import json
import os
from urllib.parse import urlencode

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicArgumentParser
from IPython.display import display

from . import context, submission, tables, validation
from . import run as _run
from .contract import API_PREFIX
from .errors import PnavError, PnavValidationError, SidecarRequestError

COMMANDS = ('status', 'runs', 'export', 'upload', 'config')
EXPORT_EXTENSIONS = {'csv': 'csv', 'json': 'json', 'boamps': 'boamps.json'}


def _parser(command: str, description: str) -> MagicArgumentParser:
    return MagicArgumentParser(prog=f'pnav {command}', description=description)


def _parsers() -> dict:
    status = _parser('status', 'Power sources and their methods, country and carbon intensity, which sidecar.')
    status.add_argument('--verbose', action='store_true', help='Also list unavailable sources and how to enable them.')
    parsers = {'status': status}

    runs = _parser('runs', "This notebook's runs, newest first.")
    runs.add_argument('--all', action='store_true', help='Runs of every notebook, not only this one.')
    runs.add_argument('--limit', type=int, default=50, help='At most this many runs (default 50).')
    parsers['runs'] = runs

    export = _parser('export', "Writes this notebook's runs (or --runs) as PNAV CSV, PNAV JSON or a BoAmps report.")
    export.add_argument('--format', choices=('csv', 'json', 'boamps'), default='csv')
    export.add_argument(
        '--type', dest='type_process', choices=validation.TYPE_PROCESSES, help='Only runs of this type_process.'
    )
    export.add_argument('--runs', metavar='ID,ID', help='Run ids instead of the whole notebook.')
    export.add_argument('path', nargs='?', help='Output file (default: pnav_export.<format> in the working directory).')
    parsers['export'] = export

    upload = _parser('upload', "Builds one PNAV record from this notebook's runs and submits it (durable outbox).")
    upload.add_argument('--status', action='store_true', help='Show the state of the uploads of this notebook.')
    upload.add_argument('--type', dest='type_process', choices=validation.TYPE_PROCESSES, default='training')
    upload.add_argument('--runs', metavar='ID,ID', help='Run ids instead of the whole notebook.')
    upload.add_argument('--endpoint-url', help='PNAV API URL (default: PNAV_ENDPOINT_URL).')
    upload.add_argument('--model-id', help='PNAV model id, 64 lowercase hex (default: PNAV_MODEL_ID).')
    upload.add_argument(
        '--allow-insecure-endpoint',
        action='store_true',
        help='Allow an http:// endpoint that is not loopback: the PNAV token travels in clear.',
    )
    upload.add_argument('--preview', action='store_true', help='Show the record that would be sent; send nothing.')
    upload.add_argument(
        '--record-failed',
        action='store_true',
        help='Include failed and interrupted runs (left out by default: the PNAV record carries no status).',
    )
    parsers['upload'] = upload

    config = _parser('config', 'Shows every setting and where it comes from; KEY=VALUE pairs write settings.')
    config.add_argument('--user', action='store_true', help='Write to the per-user file (default).')
    config.add_argument(
        '--project', action='store_true', help='Write to the project file found from the working directory.'
    )
    config.add_argument('pairs', nargs='*', metavar='KEY=VALUE')
    parsers['config'] = config
    return parsers


def overview() -> str:
    lines = ['%pnav COMMAND [options]   (each command takes --help)', '']
    for name, parser in _parsers().items():
        lines.append(f'  {name:8s} {parser.description}')
    from .cell_options import usage

    lines += ['', '%%pnav [options] measures a cell:', '', usage()]
    return '\n'.join(lines)


def dispatch(magics, line: str):
    tokens = line.split()
    if not tokens or tokens[0] in ('-h', '--help', 'help'):
        print(overview())
        return None
    command, rest = tokens[0], line.split(None, 1)[1] if len(tokens) > 1 else ''
    parsers = _parsers()
    if command not in parsers:
        raise UsageError(f'%pnav: unknown command {command!r}; one of {", ".join(COMMANDS)}')
    parser = parsers[command]
    if any(t in ('-h', '--help') for t in rest.split()):
        print(parser.format_help())
        return None
    args = parser.parse_argstring(rest)
    try:
        return globals()[f'_{command}'](magics.client, args)
    except PnavError as error:
        raise UsageError(f'%pnav {command}: {error}') from None


def _selection(args) -> dict:
    """The runs a command acts on: --runs, else this notebook's, else this kernel's (plain IPython, consoles)."""
    if args.runs:
        return {'runIds': [r.strip() for r in args.runs.split(',') if r.strip()]}
    path = context.notebook_path()
    if path is not None:
        return {'notebookPath': path}
    ids = _run.opened_ids()
    if not ids:
        raise UsageError('%pnav: no runs in this kernel yet (measure a cell with %%pnav, or pass --runs ID,ID)')
    return {'runIds': ids}


# ---------------------------------------------------------------------- commands


def _status(client, args):
    rows, notes = status_rows(client.status(), verbose=args.verbose)
    # HTML in a notebook, the aligned text in a terminal: the same rows.
    text = _aligned(rows, notes)
    display(tables.Table('PNAV Lab status', ['', ''], [list(row) for row in rows], set(), notes, text=text))
    return None


def status_text(status: dict, *, verbose: bool = False) -> str:
    """A short aligned summary: what is measured and how, where CO2 comes from, which sidecar answers.

    The setup advice for unavailable sources (udev rules, flags) is only shown with `verbose`.
    """
    return _aligned(*status_rows(status, verbose=verbose))


def _aligned(rows: list, notes: list) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f'{name:<{width}}  {value}' for name, value in rows]
    # Advice lines (`--verbose`) sit under the values; the one-line hint starts at the margin.
    lines += [note if note.startswith('(') else f'{"":<{width}}  {note}' for note in notes]
    return '\n'.join(lines)


def status_rows(status: dict, *, verbose: bool = False) -> tuple[list, list]:
    """(name, value) rows, then the notes under them."""
    location = status['location']
    rows = []
    in_use = [s for s in status['sources'] if s['available'] and s['method'] != 'none']
    for source in in_use:
        kind = 'measured' if source['measured'] else 'estimated'
        rows.append((source['component'], f'{source["method"]} ({kind})'))
    for component in ('cpu', 'gpu', 'ram'):
        if not any(s['component'] == component for s in in_use):
            rows.append((component, 'not present'))
    rows.append(
        (
            'country',
            f'{location["countryIso3"]} {location["countryName"]} (from: {location["countrySource"]}), '
            f'{location["intensityGPerKWh"]:.1f} g/kWh ({location["intensitySource"]}; factors '
            f'{location.get("factors", "latest")}), PUE {status["pue"]}',
        )
    )
    rows.append(('scope', f'{status["scope"]["kind"]}: {status["scope"]["detail"]}'))
    sidecar = f'{status["version"]}, pid {status["pid"]} on {status["host"]}, since {status["startedAt"]}'
    rows.append(('sidecar', sidecar))
    if status.get('dataDir'):
        rows.append(('data dir', status['dataDir']))
    notes = []
    unavailable = [s for s in status['sources'] if not s['available'] and s['method'] != 'none']
    if verbose:
        for source in unavailable:
            notes.append(f'{source["component"]} {source["method"]}: {source.get("reason") or "unavailable"}')
            if source.get('fix'):
                notes.append(f'  fix: {source["fix"]}')
    elif unavailable:
        notes.append(
            f'({len(unavailable)} more source(s) unavailable: `%pnav status --verbose` or `pnav doctor` says how to enable them)'
        )
    return rows, notes


def _runs(client, args):
    query = {'limit': args.limit}
    own_ids = None
    if not args.all:
        path = context.notebook_path()
        if path is not None:
            query['notebookPath'] = path
        elif context.kernel_id() is not None:
            query['kernelId'] = context.kernel_id()
        else:
            own_ids = set(_run.opened_ids())  # plain IPython: the runs this process opened
    runs = client.list_runs(**query)
    if own_ids is not None:
        runs = [run for run in runs if run['id'] in own_ids]
    if not runs:
        print('no runs yet')
        return None
    where = query.get('notebookPath') or ('every notebook' if args.all else 'this kernel')
    display(tables.runs_table(runs, f'runs of {where}, newest first'))
    return None


def _export(client, args):
    body = {'format': args.format, **_selection(args)}
    if args.type_process:
        body['typeProcess'] = args.type_process
    data, _content_type = client.request('POST', f'{API_PREFIX}/exports', body, timeout_s=30.0, raw=True)
    path = os.path.abspath(args.path or f'pnav_export.{EXPORT_EXTENSIONS[args.format]}')
    with open(path, 'wb') as handle:
        handle.write(data)
    print(f'wrote {path} ({len(data)} bytes, {args.format})')
    return None


def _token() -> str:
    raw = os.environ.get('PNAV_TOKEN')
    if not raw:
        try:
            raw = getpass.getpass('PNAV token (not stored in the notebook): ')
        except Exception as error:  # frontends without stdin raise StdinNotImplementedError
            raise UsageError(f'%pnav upload: no PNAV token: set PNAV_TOKEN in the environment ({error})') from None
    try:
        return validation.token(raw)
    except PnavValidationError as error:
        raise UsageError(f'%pnav upload: {error}') from None


def _upload(client, args):
    if args.status:
        path = context.notebook_path()
        suffix = f'?{urlencode({"notebookPath": path})}' if path else ''
        uploads = client.request('GET', f'{API_PREFIX}/uploads{suffix}')['uploads']
        if not uploads:
            print('no uploads')
        for upload in uploads:
            extra = f' — {upload["lastError"]}' if upload.get('lastError') else ''
            fix = f' (to fix: {upload["fix"]})' if upload.get('fix') else ''
            print(f'{upload["id"]:40s} {upload["status"]:9s} attempts {upload.get("attempts", 0)}{extra}{fix}')
        return None
    selection = {**_selection(args), 'typeProcess': args.type_process}
    if args.record_failed:
        selection['recordFailed'] = True
    if args.preview:
        try:
            preview = client.request('POST', f'{API_PREFIX}/records/preview', selection)
        except SidecarRequestError as error:
            raise UsageError(f'%pnav upload: {error}') from None
        _print_location(preview.get('location'))
        _print_excluded(preview.get('excludedRunIds'))
        print(json.dumps(preview['record'], indent=1))
        return None
    try:
        allow_insecure = args.allow_insecure_endpoint or validation.insecure_endpoint_allowed()
        endpoint = validation.endpoint_url(
            args.endpoint_url or os.environ.get('PNAV_ENDPOINT_URL'), '--endpoint-url', allow_insecure
        )
        model_id = validation.model_id(args.model_id or os.environ.get('PNAV_MODEL_ID'), '--model-id')
    except PnavValidationError as error:
        raise UsageError(f'%pnav upload: {error}') from None
    body = {'endpointUrl': endpoint, 'token': _token(), 'modelId': model_id, **selection}
    if allow_insecure:
        body['allowInsecureEndpoint'] = True
    try:
        answer = client.request('POST', f'{API_PREFIX}/uploads', body, timeout_s=10.0)
        uploads = answer['uploads']
    except SidecarRequestError as error:
        raise UsageError(f'%pnav upload: {error}') from None
    _print_excluded(answer.get('excludedRunIds'))
    for upload in uploads:
        # The first outcome, as calculadorapnav's synchronous POST reports it: delivered, rejected, or queued.
        outcome = submission.wait_for_outcome(client, upload['id']) or upload
        print(submission.describe(outcome)[1])
    return None


def _print_location(location) -> None:
    if location:
        print(
            f'country {location["countryIso3"]} {location["countryName"]} ({location["countrySource"]}); '
            f'{location["intensityGPerKWh"]} g CO2eq/kWh from {location["intensitySource"]}'
        )


def _print_excluded(run_ids) -> None:
    if run_ids:
        print(
            f'left out {len(run_ids)} failed or interrupted run(s): {", ".join(run_ids)} '
            '(--record-failed includes them)'
        )


def _config(client, args):
    if args.user and args.project:
        raise UsageError('%pnav config: --user and --project are exclusive')
    cwd = os.getcwd()
    if not args.pairs:
        try:
            query = urlencode({'cwd': cwd, 'env': json.dumps(context.pnav_env())})
            settings = client.request('GET', f'{API_PREFIX}/config?{query}')
        except SidecarRequestError as error:
            if error.status == 404:
                raise UsageError('%pnav config: this sidecar has no /api/v1/config (update the sidecar)') from None
            raise
        _print_settings(settings)
        return None
    scope = 'project' if args.project else 'user'
    for pair in args.pairs:
        key, sep, value = pair.partition('=')
        if not sep or not key:
            raise UsageError(f'%pnav config: expected KEY=VALUE, got {pair!r}')
        try:
            answer = client.request(
                'PUT', f'{API_PREFIX}/config', {'key': key, 'value': value, 'scope': scope, 'cwd': cwd}
            )
        except SidecarRequestError as error:
            raise UsageError(f'%pnav config {key}: {error}') from None
        written = answer.get('written', {}) if isinstance(answer, dict) else {}
        setting = answer.get('setting', {}) if isinstance(answer, dict) else {}
        where = f' in {written.get("path")}' if written.get('path') else ''
        effective = ''
        if setting and setting.get('source', '').split(':')[0] not in (scope, ''):
            effective = f' (effective value {json.dumps(setting.get("value"))} from {setting.get("source")})'
        print(f'{key} = {value} ({scope}{where}){effective}')
    return None


def _print_settings(settings) -> None:
    """Accepts `{settings: [{key, value, source}]}` or `{settings: {key: {value, source}}}`."""
    items = settings.get('settings', settings)
    rows = []
    if isinstance(items, dict):
        for key, entry in items.items():
            if isinstance(entry, dict):
                rows.append((key, entry.get('value'), entry.get('source', '')))
            else:
                rows.append((key, entry, ''))
    else:
        rows = [(e.get('key'), e.get('value'), e.get('source', '')) for e in items]
    for key, value, source in rows:
        print(f'{key:20s} {json.dumps(value):30s} {source}')
    for warning in settings.get('warnings', []) if isinstance(settings, dict) else []:
        print(f'warning: {warning.get("source")}: {warning.get("key")}: {warning.get("message")}')
