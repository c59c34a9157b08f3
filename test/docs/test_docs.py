"""Docs are tests: every Python example of the READMEs and every example notebook runs, as printed,
in a fresh real kernel (nbclient + ipykernel) whose `%%pnav` cells start and use a real sidecar the
way a user's kernel does (auto-started from this checkout, in a private runtime and data dir).

A README code block is split into cells where a line starts with `%%` (a cell magic opens a cell, as it
does when the reader pastes the block into a notebook). Names an example assumes (`net`, `prompt`...)
come from `preludes.py`.
"""

from __future__ import annotations

import json
import os
import re
import signal
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from preludes import prelude_for

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ['README.md', 'python-shim/README.md', 'sidecar/README.md', 'labextension/README.md', 'test/README.md']
NOTEBOOKS = sorted((ROOT / 'python-shim' / 'examples').glob('*.ipynb'))
FENCE = re.compile(r'^(?P<indent>[ \t]*)```python[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$', re.M | re.S)
MENTIONS = ('%%pnav', '%pnav', 'pnav_lab')
CELL_TIMEOUT_S = 180


def python_examples(document: str) -> list[str]:
    """The ```python blocks of a document that use PNAV Lab, dedented, in order."""
    path = ROOT / document
    if not path.exists():
        return []
    blocks = []
    for match in FENCE.finditer(path.read_text(encoding='utf-8')):
        body = textwrap.dedent(match.group('body'))
        if any(mention in body for mention in MENTIONS):
            blocks.append(body)
    return blocks


def split_cells(block: str) -> list[str]:
    cells, current = [], []
    for line in block.splitlines():
        if line.startswith('%%') and any(s.strip() for s in current):
            cells.append('\n'.join(current))
            current = []
        current.append(line)
    if any(s.strip() for s in current):
        cells.append('\n'.join(current))
    return cells


@pytest.fixture
def private_sidecar_env(tmp_path, monkeypatch):
    """The kernel finds no sidecar in its runtime dir and starts one, as on a user's first cell."""
    runtime, data = tmp_path / 'runtime', tmp_path / 'data'
    monkeypatch.setenv('PNAV_RUNTIME_DIR', str(runtime))
    monkeypatch.setenv('PNAV_DATA_DIR', str(data))
    for name in ('PNAV_SIDECAR_URL', 'PNAV_SIDECAR_TOKEN', 'PNAV_COUNTRY'):
        monkeypatch.delenv(name, raising=False)
    yield tmp_path
    try:
        pid = json.loads((runtime / 'pnav-sidecar.json').read_text())['pid']
        os.kill(int(pid), signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        pass


def execute(notebook, workdir: Path, session_name: str):
    """Runs every cell in a fresh kernel; raises CellExecutionError naming the failing cell."""
    os.environ['JPY_SESSION_NAME'] = session_name  # the kernel inherits it: runs are tagged with the notebook
    try:
        NotebookClient(
            notebook, timeout=CELL_TIMEOUT_S, kernel_name='python3', resources={'metadata': {'path': str(workdir)}}
        ).execute()
    finally:
        os.environ.pop('JPY_SESSION_NAME', None)
    return notebook


def problems(notebook) -> list[str]:
    """Tracebacks, errors and warnings in any output: a documented example must run clean."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get('outputs', []):
            if output.get('output_type') == 'error':
                found.append(f'cell {index}: {output["ename"]}: {output["evalue"]}')
            elif output.get('output_type') == 'stream' and output.get('name') == 'stderr':
                found.append(f'cell {index} stderr: {output["text"].strip()[:500]}')
    return found


def runs_of(notebook_path: str, workdir: Path) -> list[dict]:
    """The sidecar's runs of one notebook, asked through pnav_lab's own client in a fresh kernel."""
    probe = nbformat.v4.new_notebook()
    probe.cells = [
        nbformat.v4.new_code_cell(
            'import json\nfrom pnav_lab.client import shared_client\n'
            f'print(json.dumps(shared_client().list_runs(notebookPath={notebook_path!r})))'
        )
    ]
    execute(probe, workdir, 'probe.ipynb')
    text = ''.join(o.get('text', '') for o in probe.cells[0].outputs if o.get('name') == 'stdout')
    return json.loads(text)


@pytest.mark.parametrize('document', [d for d in DOCUMENTS if python_examples(d)])
def test_readme_examples_run_as_printed(document, private_sidecar_env):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(prelude_for(document))]
    for block in python_examples(document):
        notebook.cells += [nbformat.v4.new_code_cell(cell) for cell in split_cells(block)]
    try:
        execute(notebook, private_sidecar_env, f'docs/{document}.ipynb')
    except CellExecutionError as error:
        pytest.fail(f'an example in {document} fails as printed:\n{error}')
    assert problems(notebook) == []


def test_every_readme_with_pnav_examples_is_covered():
    """A new package README with examples must be listed here, or its examples would go untested."""
    readmes = {str(p.relative_to(ROOT)) for p in ROOT.glob('*/README.md')} | {'README.md'}
    with_examples = {d for d in readmes if python_examples(d)}
    assert with_examples <= set(DOCUMENTS)
    assert 'README.md' in with_examples


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_example_notebook_runs_top_to_bottom_without_errors_or_warnings(path, private_sidecar_env):
    notebook = nbformat.read(path, as_version=4)
    session = f'examples/{path.name}'
    try:
        execute(notebook, private_sidecar_env, session)
    except CellExecutionError as error:
        pytest.fail(f'{path.name} fails on Run All:\n{error}')
    assert problems(notebook) == []

    runs = runs_of(session, private_sidecar_env)
    training = [r for r in runs if r['typeProcess'] == 'training']
    assert training, f'no training run recorded for {path.name}'
    for run in training:
        assert run['status'] == 'ok'
        assert run['nEpoch'] == len(run['epochs']) > 1
        assert all(epoch['energyJ'] > 0 and epoch['status'] == 'ok' for epoch in run['epochs'])
        assert run['model']['nParameters'] > 0, 'the demo names its model: the record must carry its size'
        assert run['location']['countryIso3'] == 'ESP'
