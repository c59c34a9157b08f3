"""Finding a running sidecar, and starting one when none is running.

Order: env `PNAV_SIDECAR_URL` + `PNAV_SIDECAR_TOKEN`, then `pnav-sidecar.json` in the runtime dir.
Starting: `PNAV_SIDECAR_CMD`, else the sidecar bundled in the installed package, else the repository
build next to an editable install, run by the Node that `node_runtime` picks. Many kernels starting at
once start one sidecar: a file lock in the runtime dir serialises the spawn, and the sidecar itself defers to a live one.

Only trusted places are read (trusted_files.py): the runtime dir and its files must be ours and private,
a symlink is never followed, and a runtime file naming anything but a loopback http:// URL is refused.
Whatever is found is still only a candidate: the client checks it proves it holds the token (peer.py).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import node_runtime, trusted_files
from .errors import NodeMissing, SidecarStartFailed
from .peer import loopback_url_problem
from .trusted_files import UntrustedPath

RUNTIME_FILE_NAME = 'pnav-sidecar.json'
# Not the sidecar's own `pnav-sidecar.lock` (an O_EXCL file holding its pid): an empty file of ours under
# that name reads to the sidecar as a lock being written, and it waits 5 s before calling it stale.
LOCK_FILE_NAME = 'pnav-sidecar.spawn.lock'
LOG_FILE_NAME = 'pnav-sidecar.log'
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SidecarEndpoint:
    url: str
    token: str
    pid: int | None = None
    source: str = 'runtime-file'
    #: The sidecar's version and data dir as its runtime file states them (None from the environment).
    version: str | None = None
    data_dir: str | None = None


def runtime_dir() -> Path:
    """The directory holding `pnav-sidecar.json`, as the sidecar computes it."""
    explicit = os.environ.get('PNAV_RUNTIME_DIR') or os.environ.get('JUPYTER_RUNTIME_DIR')
    if explicit:
        return Path(explicit)
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return Path.home() / '.local' / 'share' / 'jupyter' / 'runtime'
    return Path(jupyter_runtime_dir())


def pid_alive(pid: int) -> bool:
    if os.name == 'nt':
        return True  # os.kill(pid, 0) terminates the process on Windows; /healthz decides there
    try:
        os.kill(pid, 0)
    except OSError:
        return False  # gone, or another user's process (PermissionError): never a sidecar of ours
    return not _is_zombie(pid)


def process_start_id(pid: int) -> str | None:
    """`<boot id>:<start ticks>` of `pid`, as the sidecar records it in `pid_start`; None without procfs."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as handle:
            ticks = handle.read().rsplit(b')', 1)[1].split()[19].decode('ascii')
    except (OSError, IndexError):
        return None
    try:
        with open('/proc/sys/kernel/random/boot_id', encoding='ascii') as handle:
            boot = handle.read().strip()
    except OSError:
        boot = 'unknown-boot'
    return f'{boot}:{ticks}'


def is_recorded_process(pid: int, recorded_start: str | None) -> bool:
    """Alive and still the process the runtime file recorded (a reused pid has another start id)."""
    if not pid_alive(pid):
        return False
    current = process_start_id(pid)
    if current is None:
        return True  # no procfs: the proof of the token decides
    if recorded_start is None:  # a file from before start ids: at least the pid must run `sidecar`
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as handle:
                return b'sidecar' in handle.read().split(b'\0')
        except OSError:
            return False
    return current == recorded_start


def _is_zombie(pid: int) -> bool:
    """A crashed child not yet reaped by its parent still answers kill(pid, 0)."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as handle:
            return handle.read().rsplit(b')', 1)[1].split()[0] == b'Z'
    except (OSError, IndexError):
        return False


def from_env() -> SidecarEndpoint | None:
    """PNAV_SIDECAR_URL + PNAV_SIDECAR_TOKEN, when the URL is loopback http:// (else None: not a place to send a token)."""
    url = os.environ.get('PNAV_SIDECAR_URL')
    token = os.environ.get('PNAV_SIDECAR_TOKEN')
    if url and token and loopback_url_problem(url) is None:
        return SidecarEndpoint(url=url.rstrip('/'), token=token, source='env')
    return None


def read_runtime_file(directory: Path | None = None) -> SidecarEndpoint | None:
    """The endpoint in the runtime file, or None when absent, unreadable or its pid is no longer the sidecar.

    Raises UntrustedPath (a SidecarUnavailable) naming the reason when the dir or file could have been
    planted by another user, or the file names a non-loopback URL.
    """
    directory = directory or runtime_dir()
    path = directory / RUNTIME_FILE_NAME
    trusted_files.check_private_dir(directory, 'runtime dir', missing_ok=True)
    text = trusted_files.read_trusted(path)
    if text is None:
        return None
    try:
        info = json.loads(text)
        url, token, pid = str(info['url']).rstrip('/'), str(info['token']), int(info['pid'])
        recorded_start = info.get('pid_start')
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    problem = loopback_url_problem(url)
    if problem:
        raise UntrustedPath(path, f'its url {problem}')
    if not is_recorded_process(pid, recorded_start if isinstance(recorded_start, str) else None):
        return None
    version = info.get('version') if isinstance(info.get('version'), str) else None
    data_dir = info.get('data_dir') if isinstance(info.get('data_dir'), str) else None
    return SidecarEndpoint(url=url, token=token, pid=pid, version=version, data_dir=data_dir)


def _note_to_stderr(note: str) -> None:
    sys.stderr.write(note + '\n')


def sidecar_command(notify=_note_to_stderr) -> list[str]:
    """The command that starts a sidecar, or NodeMissing / SidecarUnavailable saying what is missing.

    Candidates in order: PNAV_SIDECAR_CMD, the sidecar bundled in this package, the repository build
    (editable install); `notify` gets the one-line note when an older Node on PATH was passed over.
    """
    configured = os.environ.get('PNAV_SIDECAR_CMD')
    if configured:
        return shlex.split(configured)
    command, note = node_runtime.cli_command()
    if note:
        notify(note)
    return [*command, 'sidecar']


class _SpawnLock:
    """An exclusive flock on `<runtime dir>/pnav-sidecar.spawn.lock`; a no-op where fcntl is missing."""

    def __init__(self, directory: Path):
        self._path = directory / LOCK_FILE_NAME
        self._fd: int | None = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:
            return self
        self._fd = trusted_files.open_private(self._path, os.O_RDWR)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock; the file stays (flock never goes stale)
            self._fd = None


def _log_tail(path: Path, limit: int = 800) -> str:
    try:
        return path.read_text(encoding='utf-8', errors='replace')[-limit:].strip()
    except OSError:
        return ''


def _read_replaceable(directory: Path) -> SidecarEndpoint | None:
    """The runtime file in our checked private dir; one we cannot trust counts as absent (the sidecar replaces it)."""
    try:
        return read_runtime_file(directory)
    except UntrustedPath:
        return None


def spawn_sidecar(
    directory: Path | None = None,
    extra_args: list[str] | None = None,
    healthy=None,
    timeout_s: float = START_TIMEOUT_S,
    command: list[str] | None = None,
) -> tuple[SidecarEndpoint, subprocess.Popen | None]:
    """Starts a detached sidecar unless one is already running; returns its endpoint and the process we started.

    `healthy(endpoint) -> bool` confirms a candidate answers /healthz.
    """
    directory = directory or runtime_dir()
    trusted_files.ensure_private_dir(directory, 'runtime dir')
    healthy = healthy or (lambda endpoint: True)
    with _SpawnLock(directory):
        existing = _read_replaceable(directory)
        if existing is not None and healthy(existing):
            return existing, None
        existing_pid = existing.pid if existing is not None else None
        command = list(command or sidecar_command()) + list(extra_args or [])
        env = dict(os.environ, PNAV_RUNTIME_DIR=str(directory))
        env.pop('PNAV_SIDECAR_URL', None)
        env.pop('PNAV_SIDECAR_TOKEN', None)
        log_path = directory / LOG_FILE_NAME
        with os.fdopen(trusted_files.open_private(log_path, os.O_WRONLY | os.O_APPEND), 'ab') as log:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    env=env,
                    start_new_session=True,  # outlives kernel restarts and Ctrl+C in the kernel
                    close_fds=True,
                )
            except FileNotFoundError as error:
                raise NodeMissing(f'{node_runtime.NODE_HINT} ({error})') from None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            endpoint = _read_replaceable(directory)
            if endpoint is not None and healthy(endpoint):
                return endpoint, (process if endpoint.pid == process.pid else None)
            if process.poll() is not None:
                # Exit 0 is a sidecar that deferred to one already running ("already running"): use the one
                # the runtime file names now, if it answers.
                endpoint = _read_replaceable(directory)
                if endpoint is not None and healthy(endpoint):
                    return endpoint, None
            # Exited without a live sidecar to defer to: it will not become ready.
            if process.returncode is not None and (endpoint is None or endpoint.pid == existing_pid):
                raise SidecarStartFailed(
                    f'The PNAV sidecar exited with status {process.returncode} before it was ready '
                    f'({" ".join(command)}). Log {log_path}: {_log_tail(log_path) or "(empty)"}'
                )
            time.sleep(0.05)
        process.terminate()
        raise SidecarStartFailed(
            f'The PNAV sidecar did not become ready within {timeout_s:.0f} s. Log {log_path}: '
            f'{_log_tail(log_path) or "(empty)"}'
        )
