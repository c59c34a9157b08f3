"""A throw-away venv with packages from PyPI, shared by the benches that compare with peers.

Kept next to the benches (they run as scripts, so this folder is on sys.path). Installed once; a marker with
`pip freeze` says it is complete, so an interrupted install is redone, never half-used.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def throwaway_venv(venv: Path, packages: list[str], *, fresh: bool, log) -> tuple[Path | None, str | None]:
    """The venv's python, or (None, why it is skipped: no venv, PyPI unreachable, no wheel for this Python)."""
    marker = venv / '.pnav-bench-installed'
    python = venv / 'bin' / 'python'
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if marker.exists() and python.exists():
        return python, None
    log(f'installing {" ".join(packages)} from PyPI into {venv} (first run only)')
    base = getattr(sys, '_base_executable', sys.executable)
    done = subprocess.run([base, '-m', 'venv', str(venv)], capture_output=True, text=True)
    if done.returncode != 0:
        return None, f'could not create a venv: {done.stderr.strip()[-300:]}'
    done = subprocess.run(
        [str(python), '-m', 'pip', 'install', '--disable-pip-version-check', '-q', *packages],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        tail = ' | '.join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return None, f'pip install {" ".join(packages)} failed (PyPI unreachable or no wheel for this Python): {tail}'
    marker.write_text(subprocess.run([str(python), '-m', 'pip', 'freeze'], capture_output=True, text=True).stdout)
    return python, None
