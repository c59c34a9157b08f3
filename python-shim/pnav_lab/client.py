"""The sidecar client: JSON over one kept-alive loopback HTTP connection, standard library only.

Timeouts are short so a dead sidecar never hangs a cell. On a connection error the client
re-discovers the sidecar (it may have restarted on another port) and retries once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import warnings
from urllib.parse import quote, urlencode, urlsplit

from . import discovery, peer
from .contract import API_PREFIX
from .errors import PnavWarning, SidecarRequestError, SidecarUnavailable
from .http1 import Connection
from .trusted_files import UntrustedPath

DEFAULT_TIMEOUT_S = 2.0
# Node closes idle keep-alive sockets after 5 s; reconnect before reusing one that old.
IDLE_RECONNECT_S = 4.0
# After a failed start, do not try again on every cell.
START_RETRY_AFTER_S = 30.0

_CONNECTION_ERRORS = (ConnectionError, OSError)


def _describe(error: BaseException) -> str:
    return f'{type(error).__name__}: {error}' if str(error) else type(error).__name__


_version_noted: set = set()


def _note_version(endpoint: discovery.SidecarEndpoint) -> None:
    """One line when the sidecar that answers is not this package's version (another checkout or install)."""
    from ._version import __version__

    if endpoint.version is None or endpoint.version == __version__ or endpoint.url in _version_noted:
        return
    _version_noted.add(endpoint.url)
    where = f' (data dir {endpoint.data_dir})' if endpoint.data_dir else ''
    warnings.warn(
        f'pnav: using the PNAV sidecar {endpoint.version} at {endpoint.url}{where}, '
        f'not version {__version__} of this pnav_lab',
        PnavWarning,
        stacklevel=3,
    )


class SidecarClient:
    """A client bound to one sidecar endpoint, re-discovered on connection errors."""

    def __init__(
        self,
        endpoint: discovery.SidecarEndpoint | None = None,
        *,
        start: bool = True,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ):
        self._endpoint = endpoint
        self._start = start
        self._timeout_s = timeout_s
        self._connection: Connection | None = None
        self._last_used = 0.0
        self._lock = threading.RLock()
        self._start_failed_at = 0.0
        self._start_error: SidecarUnavailable | None = None
        self._impostor: str | None = None  # why the last candidate was refused as not our sidecar
        # Only requests that begin something (opening a run, a status query) may start a sidecar: a call in
        # the middle of a run must not block the user's loop for a sidecar start it cannot use anyway.
        self._may_start_now = True
        # Pipelined requests whose answers have not been read yet, oldest first.
        self._unread: list[PendingOpen] = []

    # ------------------------------------------------------------------ discovery

    @property
    def endpoint(self) -> discovery.SidecarEndpoint:
        with self._lock:
            if self._endpoint is None:
                self._endpoint = self._discover()
                _note_version(self._endpoint)
            return self._endpoint

    def _healthy(self, endpoint: discovery.SidecarEndpoint) -> bool:
        """Whether `endpoint` answers and proves it holds its token (nothing sensitive is sent).
        A peer that answers without the proof is remembered, so the user hears about it."""
        try:
            connect_verified(endpoint, self._timeout_s).close()
        except peer.NotTheSidecar as error:
            self._impostor = str(error)
            return False
        except (OSError, SidecarUnavailable):
            return False
        return True

    def _discover(self) -> discovery.SidecarEndpoint:
        allowed = self._start and self._may_start_now
        return self._discover_with(allowed)

    def _discover_with(self, may_start: bool) -> discovery.SidecarEndpoint:
        self._impostor = None
        candidate = discovery.from_env()
        if candidate is not None and self._healthy(candidate):
            return candidate
        refused = None
        try:
            candidate = discovery.read_runtime_file()
        except UntrustedPath as error:  # a planted file is not obeyed; starting our own replaces it
            candidate, refused = None, error
        if candidate is not None and self._healthy(candidate):
            return candidate
        if not may_start:
            impostor = f'; {self._impostor}' if self._impostor else ''
            raise refused or SidecarUnavailable(
                f'No running PNAV sidecar answers (runtime file or PNAV_SIDECAR_URL){impostor}'
            )
        if self._start_error is not None and time.monotonic() - self._start_failed_at < START_RETRY_AFTER_S:
            raise self._start_error
        try:
            endpoint, _process = discovery.spawn_sidecar(healthy=self._healthy)
        except SidecarUnavailable as error:
            self._start_error, self._start_failed_at = error, time.monotonic()
            raise
        self._start_error = None
        return endpoint

    # ------------------------------------------------------------------ transport

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            unread, self._unread = self._unread, []
            for pending in unread:
                pending.lost(ConnectionError('the connection closed before the answer was read'))

    def _connect(self, timeout_s: float):
        return connect_verified(self.endpoint, timeout_s)

    def _send(self, method: str, path: str, body, timeout_s: float) -> Connection:
        """Sends one request on the kept-alive connection, after reading the answers still owed on it."""
        endpoint = self.endpoint
        self._read_unread()
        if self._connection is None or time.monotonic() - self._last_used > IDLE_RECONNECT_S:
            self.close()
            self._connection = self._connect(timeout_s)
        connection = self._connection
        connection.settimeout(timeout_s)
        headers = {'Authorization': f'Bearer {endpoint.token}', 'Accept': 'application/json'}
        payload = None
        if body is not None:
            payload = json.dumps(body, separators=(',', ':')).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        base_path = urlsplit(endpoint.url).path.rstrip('/')
        try:
            connection.send(method, base_path + path, headers, payload)
        except BaseException:
            self.close()
            raise
        self._last_used = time.monotonic()
        return connection

    def _receive(self, connection: Connection, method: str, raw: bool = False, *, late: bool = False):
        try:
            response = connection.read_response(method)
        except BaseException:
            self.close()
            raise
        if not late:  # an answer read late was sent long ago: the idle clock keeps the time it was asked
            self._last_used = time.monotonic()
        if response.will_close:
            self.close()
        return _decode(response, raw)

    def _request_once(self, method: str, path: str, body, timeout_s: float, raw: bool = False):
        return self._receive(self._send(method, path, body, timeout_s), method, raw)

    def _read_unread(self) -> None:
        """Reads the answers of pipelined requests, in the order they were sent."""
        while self._unread:
            pending = self._unread.pop(0)
            try:
                pending.answered(self._receive(self._connection, pending.method, late=True))
            except SidecarRequestError as error:
                pending.refused(error)
            except _CONNECTION_ERRORS as error:
                pending.lost(error)
            except BaseException as error:  # KeyboardInterrupt mid-read: the connection is closed, the answer lost
                pending.lost(ConnectionError(_describe(error)))
                raise

    def request(
        self,
        method: str,
        path: str,
        body=None,
        *,
        timeout_s: float | None = None,
        raw: bool = False,
        retry: bool = True,
        may_start: bool = True,
    ):
        """One request; on a connection error, re-discover and retry once (the sidecar may have restarted)."""
        timeout_s = timeout_s or self._timeout_s
        with self._lock:
            self._may_start_now = may_start
            try:
                return self._request_with_retry(method, path, body, timeout_s, raw, retry)
            finally:
                self._may_start_now = True

    def _request_with_retry(self, method, path, body, timeout_s, raw, retry):
        try:
            return self._request_once(method, path, body, timeout_s, raw)
        except SidecarRequestError:
            raise
        except _CONNECTION_ERRORS as first_error:
            if not retry:
                raise SidecarUnavailable(f'The PNAV sidecar stopped answering ({_describe(first_error)})') from None
            self._endpoint = None
            try:
                return self._request_once(method, path, body, timeout_s, raw)
            except SidecarRequestError:
                raise
            except SidecarUnavailable as error:
                raise SidecarUnavailable(
                    f'The PNAV sidecar stopped answering ({_describe(first_error)}); {error}'
                ) from None
            except _CONNECTION_ERRORS as error:
                self._endpoint = None
                raise SidecarUnavailable(f'The PNAV sidecar stopped answering ({_describe(error)})') from None

    # ------------------------------------------------------------------ API

    def healthz(self) -> dict:
        return self.request('GET', '/healthz')

    def status(self) -> dict:
        return self.request('GET', f'{API_PREFIX}/status')

    def open_run(self, body: dict) -> dict:
        return self.request('POST', f'{API_PREFIX}/runs', body)['run']

    def send_open_run(self, body: dict) -> PendingOpen:
        """Opens a run without waiting for the answer: the run id is chosen here (a UUID), the request is
        sent, and the answer is read with the next request on the connection or by `PendingOpen.result()`.
        Raises SidecarUnavailable, like open_run, when no sidecar can be found or started."""
        body = {**body, 'id': str(uuid.uuid4())}
        with self._lock:
            self._may_start_now = True
            pending = PendingOpen(self, body)
            try:
                self._send('POST', f'{API_PREFIX}/runs', body, self._timeout_s)
            except _CONNECTION_ERRORS as error:
                pending.lost(error)  # result() opens it again, re-discovering the sidecar
                return pending
            self._unread.append(pending)
            return pending

    def get_run(self, run_id: str) -> dict:
        return self.request('GET', f'{API_PREFIX}/runs/{quote(run_id, safe="")}')['run']

    def list_runs(self, **query) -> list:
        query = {k: v for k, v in query.items() if v is not None}
        suffix = f'?{urlencode(query)}' if query else ''
        return self.request('GET', f'{API_PREFIX}/runs{suffix}')['runs']

    def patch_run(self, run_id: str, body: dict) -> dict:
        return self.request('PATCH', f'{API_PREFIX}/runs/{quote(run_id, safe="")}', body, may_start=False)['run']

    def close_run(self, run_id: str, body: dict, *, timeout_s: float | None = None) -> dict:
        # Closing twice is harmless, so a retry after a lost response is safe.
        return self.request(
            'POST',
            f'{API_PREFIX}/runs/{quote(run_id, safe="")}/close',
            body,
            timeout_s=timeout_s or 10.0,
            may_start=False,
        )

    def open_epoch(self, run_id: str, index: int | None = None) -> dict:
        body = {} if index is None else {'index': index}
        return self.request('POST', f'{API_PREFIX}/runs/{quote(run_id, safe="")}/epochs', body, may_start=False)[
            'epoch'
        ]

    def close_epoch(self, run_id: str, index: int, n_batch: int | None = None) -> dict:
        body = {} if n_batch is None else {'nBatch': n_batch}
        return self.request(
            'POST', f'{API_PREFIX}/runs/{quote(run_id, safe="")}/epochs/{index}/close', body, may_start=False
        )['epoch']

    def count_batches(self, run_id: str, n: int) -> dict:
        return self.request('POST', f'{API_PREFIX}/runs/{quote(run_id, safe="")}/batches', {'n': n}, may_start=False)[
            'run'
        ]


def _decode(response, raw: bool):
    data = response.body
    if 200 <= response.status < 300:
        if raw:
            return data, response.headers.get('content-type', '')
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise SidecarRequestError(response.status, 'bad_response', f'not JSON: {data[:100]!r}') from None
    try:
        envelope = json.loads(data)['error']
        raise SidecarRequestError(
            response.status, envelope.get('code', 'unknown'), envelope.get('message', ''), envelope.get('issues')
        )
    except (ValueError, KeyError, TypeError):
        raise SidecarRequestError(response.status, 'unknown', data[:300].decode('utf-8', 'replace')) from None


class PendingOpen:
    """A POST /runs sent ahead of its answer (see SidecarClient.send_open_run)."""

    method = 'POST'

    def __init__(self, client: SidecarClient, body: dict):
        self._client = client
        self.body = body
        self.run_id: str = body['id']
        self._run: dict | None = None
        self._error: BaseException | None = None
        self._lost: BaseException | None = None

    def answered(self, answer: dict) -> None:
        self._run = answer['run']

    def refused(self, error: SidecarRequestError) -> None:
        self._error = error

    def lost(self, error: BaseException) -> None:
        self._lost = error

    def result(self) -> dict:
        """The opened run; raises what open_run would have raised."""
        client = self._client
        with client._lock:
            if self._run is None and self._error is None and self._lost is None:
                client._read_unread()
            if self._lost is not None and self._run is None and self._error is None:
                self._retry_once()
        if self._error is not None:
            raise self._error
        return self._run

    def _retry_once(self) -> None:
        """The answer was lost with the connection: the run may or may not exist. Open it again with the
        same id (the request re-discovers a restarted sidecar); 409 means the first open got through."""
        lost, self._lost = self._lost, None
        try:
            # Mid-cell: never start a sidecar here (that would block the user's code for a run it cannot use).
            self._run = self._client.request('POST', f'{API_PREFIX}/runs', self.body, may_start=False)['run']
        except SidecarRequestError as error:
            if error.status != 409:
                self._error = error
                return
            try:
                self._run = self._client.get_run(self.run_id)
            except Exception as again:
                self._error = again
        except SidecarUnavailable as error:
            self._error = SidecarUnavailable(f'{error} (after {_describe(lost)})')


def connect_verified(endpoint: discovery.SidecarEndpoint, timeout_s: float) -> Connection:
    """A new connection to `endpoint` whose peer proved it holds the token (peer.py); NotTheSidecar otherwise."""
    problem = peer.loopback_url_problem(endpoint.url)
    if problem:
        raise SidecarUnavailable(f'the sidecar URL must be http:// on loopback: {problem}')
    parts = urlsplit(endpoint.url)
    connection = Connection(parts.hostname or '127.0.0.1', parts.port or 80, timeout_s)
    try:
        challenge = peer.new_challenge()
        base_path = parts.path.rstrip('/')
        response = connection.request('GET', f'{base_path}/healthz?challenge={challenge}', {}, None)
        if response.status == 200 and peer.proof_matches(
            endpoint.token, challenge, peer.challenge_body_proof(response.body)
        ):
            if response.will_close:  # a sidecar shutting down: the token must go on this same connection
                raise ConnectionResetError('the sidecar closed the connection after proving itself')
            return connection
        reason = peer.foreign_owner_reason(connection.sock) or f'it answered {response.status} without the proof'
    except BaseException:
        connection.close()
        raise
    connection.close()
    raise peer.NotTheSidecar(
        f'the process at {endpoint.url} did not prove it is the PNAV sidecar ({reason}); its token was not sent'
    )


def verified(endpoint: discovery.SidecarEndpoint, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    try:
        connect_verified(endpoint, timeout_s).close()
    except (OSError, SidecarUnavailable):
        return False
    return True


_shared: SidecarClient | None = None
_shared_lock = threading.Lock()


def shared_client() -> SidecarClient:
    """The process-wide client (one kept-alive connection per kernel)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SidecarClient()
        return _shared
