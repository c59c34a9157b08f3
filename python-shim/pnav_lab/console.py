"""`pnav`, the Python console script: runs the sidecar's CLI (`pnav doctor`, `pnav sidecar`, `pnav measure`,
`pnav config`, `pnav upload`, `pnav mock-pnav`) with the Node that `node_runtime` picks, so
`pip install pnav-lab` gives the whole CLI without Node on PATH."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import node_runtime
from .errors import SidecarUnavailable

EXIT_NOT_RUNNABLE = 2


def main() -> None:
    try:
        command, note = node_runtime.cli_command()
    except SidecarUnavailable as error:
        sys.stderr.write(f'pnav: {error}\n')
        raise SystemExit(EXIT_NOT_RUNNABLE) from None
    if note:
        sys.stderr.write(note + '\n')
    env = dict(os.environ)
    # `pnav measure` starts the Jupyter of the environment this script was installed in.
    jupyter = Path(sys.executable).parent / 'jupyter'
    if 'PNAV_JUPYTER' not in env and jupyter.is_file():
        env['PNAV_JUPYTER'] = str(jupyter)
    # exec: signals (Ctrl+C, SIGTERM from a supervisor) reach Node directly, and its exit code is ours.
    os.execve(command[0], [command[0], command[1], *sys.argv[1:]], env)


if __name__ == '__main__':
    main()
