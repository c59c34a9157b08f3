"""Proving the sidecar is ours before a token goes to it.

A kernel keeps the sidecar's URL for its lifetime; if the sidecar dies, another local user may bind the
same loopback port. So every new connection first asks `GET /healthz?challenge=<nonce>` (no token) and
checks the answer is HMAC-SHA256(token, PREFIX + nonce), which only the real sidecar can compute; only
then does the token travel, on that same connection. Where Linux tells (`/proc/net/tcp`), the uid owning
the answering socket is named when the proof fails, and the Jupyter proxy (which cannot reuse a checked
connection) also refuses any socket another user owns.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import socket
import struct
from urllib.parse import urlsplit

PROOF_PREFIX = b'pnav-sidecar-healthz:'


class NotTheSidecar(ConnectionError):
    """The peer at the sidecar's address did not prove it holds the sidecar's token: nothing was sent to it."""


def new_challenge() -> str:
    return secrets.token_hex(32)


def proof_for(token: str, challenge: str) -> str:
    return hmac.new(token.encode('utf-8'), PROOF_PREFIX + challenge.encode('ascii'), hashlib.sha256).hexdigest()


def proof_matches(token: str, challenge: str, proof) -> bool:
    return isinstance(proof, str) and hmac.compare_digest(proof_for(token, challenge), proof)


def challenge_body_proof(body: bytes):
    try:
        return json.loads(body).get('proof')
    except (ValueError, AttributeError):
        return None


def loopback_url_problem(url: str) -> str | None:
    """Why `url` is not an http:// URL on a loopback address (a token never leaves the machine), or None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ''
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        return f'{url!r} is not a URL'
    if parts.scheme != 'http':
        return f'{url!r} is not an http:// URL'
    if host == 'localhost':
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return f'{url!r} is not a loopback address'


def _proc_hex(address: tuple) -> str:
    host, port = address[0], address[1]
    if ':' in host:
        words = struct.unpack('<4I', socket.inet_pton(socket.AF_INET6, host))
        return ''.join(f'{w:08X}' for w in words) + f':{port:04X}'
    return f'{struct.unpack("<I", socket.inet_aton(host))[0]:08X}:{port:04X}'


def peer_uid(sock: socket.socket) -> int | None:
    """The uid owning the other end of a connected loopback TCP socket, or None where /proc cannot tell."""
    try:
        mine, theirs = sock.getsockname(), sock.getpeername()
        table = '/proc/net/tcp6' if sock.family == socket.AF_INET6 else '/proc/net/tcp'
        want_local, want_remote = _proc_hex(theirs), _proc_hex(mine)
        with open(table, encoding='ascii') as handle:
            next(handle, None)
            for line in handle:
                fields = line.split()
                if len(fields) > 7 and fields[1] == want_local and fields[2] == want_remote:
                    return int(fields[7])
    except (OSError, ValueError, struct.error):
        return None
    return None


def foreign_owner_reason(sock: socket.socket) -> str | None:
    """Why the process at the other end of `sock` is not ours (another user's), or None."""
    if not hasattr(os, 'getuid'):
        return None
    uid = peer_uid(sock)
    if uid is None or uid == os.getuid():
        return None
    return f'the socket answering there belongs to uid {uid}, not to you (uid {os.getuid()})'
