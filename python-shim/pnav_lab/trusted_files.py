"""Files that decide where a token goes (the runtime file, the spawn lock, the sidecar log) are trusted
only when no other local user could have planted or swapped them: ours, not writable by group or others,
never reached through a symlink. Where uids do not exist (Windows) the uid checks are skipped."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import SidecarUnavailable

_NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)


class UntrustedPath(SidecarUnavailable):
    """A file or directory another user could have planted: refused, with the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f'refusing {path}: {reason}')


def _uid() -> int | None:
    return os.getuid() if hasattr(os, 'getuid') else None


def untrusted_reason(st: os.stat_result, allow_root: bool = False) -> str | None:
    """Why a file with these stats could have been written by another user, or None."""
    uid = _uid()
    if uid is None:
        return None
    if st.st_uid != uid and not (allow_root and st.st_uid == 0):
        return f'owned by uid {st.st_uid}, not by you (uid {uid})'
    if st.st_mode & 0o002:
        return f'writable by every user (mode {stat.S_IMODE(st.st_mode):04o})'
    # umask 002 makes files group-writable; with a user-private group that group is only us.
    if st.st_mode & 0o020 and not is_private_group(st.st_gid):
        return f'writable by its group (mode {stat.S_IMODE(st.st_mode):04o})'
    return None


def is_private_group(gid: int) -> bool:
    """Our primary group, nobody else's primary group, and no member listed but us (unknown: shared)."""
    if not hasattr(os, 'getgid') or gid != os.getgid():
        return False
    try:
        import grp
        import pwd

        me = pwd.getpwuid(os.getuid()).pw_name
        if any(entry.pw_gid == gid and entry.pw_uid != os.getuid() for entry in pwd.getpwall()):
            return False
        return all(member == me for member in grp.getgrgid(gid).gr_mem)
    except (ImportError, KeyError, OSError):
        return False


def check_private_dir(directory: Path, role: str, missing_ok: bool = False) -> None:
    """An existing dir must be a real directory of ours, not writable by others; UntrustedPath otherwise."""
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        if missing_ok:
            return
        raise UntrustedPath(directory, f'the {role} does not exist') from None
    if not stat.S_ISDIR(st.st_mode):
        raise UntrustedPath(directory, f'the {role} is a symlink or not a directory')
    reason = untrusted_reason(st)
    if reason:
        raise UntrustedPath(
            directory, f'the {role} is {reason}; set PNAV_RUNTIME_DIR to a directory only you can write'
        )


def ensure_private_dir(directory: Path, role: str) -> None:
    """Creates `directory` (0700) or checks it is ours; forces mode 0700, and a chmod that fails is an error."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        raise UntrustedPath(directory, f'cannot create the {role}: {error}') from None
    try:
        st = os.lstat(directory)
    except OSError as error:
        raise UntrustedPath(directory, f'cannot check the {role}: {error}') from None
    if not stat.S_ISDIR(st.st_mode):
        raise UntrustedPath(directory, f'the {role} is a symlink or not a directory')
    uid = _uid()
    if uid is not None and st.st_uid != uid:
        raise UntrustedPath(
            directory,
            f'the {role} is owned by uid {st.st_uid}, not by you (uid {uid}); '
            'set PNAV_RUNTIME_DIR to a directory only you can write',
        )
    if uid is not None and stat.S_IMODE(st.st_mode) != 0o700:
        try:
            os.chmod(directory, 0o700)
        except OSError as error:
            raise UntrustedPath(directory, f'cannot make the {role} private (chmod 0700): {error}') from None


def read_trusted(path: Path) -> str | None:
    """The text of a file of ours, opened without following a symlink; None when absent, UntrustedPath when planted."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as error:
        if _NOFOLLOW and os.path.islink(path):
            raise UntrustedPath(path, 'it is a symlink') from None
        raise UntrustedPath(path, f'cannot read it: {error}') from None
    with os.fdopen(fd, 'rb') as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedPath(path, 'not a regular file')
        reason = untrusted_reason(st)
        if reason:
            raise UntrustedPath(path, reason)
        return handle.read().decode('utf-8', errors='replace')


def open_private(path: Path, flags: int) -> int:
    """Opens a file of ours for writing: created with O_EXCL (mode 0600), or an existing one that is ours and
    private, never through a symlink. Returns the descriptor; UntrustedPath when planted."""
    try:
        return os.open(path, flags | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, flags | _NOFOLLOW)
    except OSError as error:
        if os.path.islink(path):
            raise UntrustedPath(path, 'it is a symlink') from None
        raise UntrustedPath(path, f'cannot open it: {error}') from None
    st = os.fstat(fd)
    reason = 'not a regular file' if not stat.S_ISREG(st.st_mode) else untrusted_reason(st)
    if reason:
        os.close(fd)
        raise UntrustedPath(path, reason)
    return fd
