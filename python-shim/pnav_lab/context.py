"""What the run tells the sidecar about where it comes from: kernel, notebook, cell, process, client."""

from __future__ import annotations

import os
import platform
import re
import sys
import time
from functools import lru_cache

from ._version import __version__

_KERNEL_FILE = re.compile(r'kernel-(?P<id>[0-9A-Za-z_-]+)\.json$')
_ENV_NAME = re.compile(r'^PNAV_[A-Z0-9_]+$')
# Discovery variables are ours, not configuration.
_ENV_SKIP = {'PNAV_SIDECAR_URL', 'PNAV_SIDECAR_TOKEN', 'PNAV_SIDECAR_CMD', 'PNAV_TOKEN'}


@lru_cache(maxsize=1)
def client_info() -> dict:
    return {
        'os': platform.platform()[:300],
        'pythonVersion': platform.python_version(),
        'tool': f'pnav-lab/{__version__}',
    }


def utc_offset_min() -> int:
    """This process's UTC offset now, in minutes east (its TZ, DST included)."""
    return time.localtime().tm_gmtoff // 60


_kernel_id: str | None = None


def kernel_id() -> str | None:
    """The Jupyter kernel id, from the connection file name (`kernel-<id>.json`)."""
    global _kernel_id
    if _kernel_id is None:
        _kernel_id = _read_kernel_id()
    return _kernel_id


def _read_kernel_id() -> str | None:
    kernel_app = sys.modules.get('ipykernel.kernelapp')
    connection_file = None
    if kernel_app is not None:
        try:
            if kernel_app.IPKernelApp.initialized():
                connection_file = kernel_app.IPKernelApp.instance().connection_file
        except Exception:
            connection_file = None
    if not connection_file:
        return None
    match = _KERNEL_FILE.search(os.path.basename(connection_file))
    return match.group('id') if match else None


def notebook_path() -> str | None:
    """JupyterLab and Notebook set JPY_SESSION_NAME to the notebook's path; VS Code sets __vsc_ipynb_file__."""
    path = os.environ.get('JPY_SESSION_NAME')
    if path:
        return path
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            vsc = shell.user_ns.get('__vsc_ipynb_file__')
            if isinstance(vsc, str):
                return vsc
    except Exception:
        pass
    return None


def parent_cell_id(shell) -> str | None:
    """The cellId JupyterLab puts in the execute request's metadata."""
    kernel = getattr(shell, 'kernel', None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent('shell') if _accepts_channel(kernel) else kernel.get_parent()
        cell_id = (parent or {}).get('metadata', {}).get('cellId')
    except Exception:
        return None
    return str(cell_id)[:200] if cell_id else None


def _accepts_channel(kernel) -> bool:
    try:
        kernel.get_parent('shell')
    except TypeError:
        return False
    return True


def pnav_env() -> dict:
    """The PNAV_* configuration variables (never the token or discovery ones), and CUDA_VISIBLE_DEVICES."""
    # Keys first: decoding every value of os.environ on each cell costs ~0.1 ms.
    names = [k for k in os.environ if k.startswith('PNAV_') and k not in _ENV_SKIP and _ENV_NAME.match(k)]
    env = {k: os.environ[k][:1000] for k in names}
    if 'CUDA_VISIBLE_DEVICES' in os.environ:
        env['CUDA_VISIBLE_DEVICES'] = os.environ['CUDA_VISIBLE_DEVICES'][:1000]
    return env


def run_origin(kind: str, *, shell=None, cell_id: str | None = None, execution_count: int | None = None) -> dict:
    """The OpenRunRequest fields that say where a run comes from."""
    body = {
        'kind': kind,
        'pid': os.getpid(),
        'cwd': os.getcwd(),
        # The record's timestamp is this process's local time, as calculadorapnav's datetime.now().
        'client': {**client_info(), 'utcOffsetMin': utc_offset_min()},
    }
    env = pnav_env()
    if env:
        body['env'] = env
    for key, value in (
        ('kernelId', kernel_id()),
        ('notebookPath', notebook_path()),
        ('cellId', cell_id or (parent_cell_id(shell) if shell is not None else None)),
        ('executionCount', execution_count),
    ):
        if value is not None:
            body[key] = value
    return body
