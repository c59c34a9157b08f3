"""The Jupyter server extension: makes sure a sidecar runs, hands its address to kernels, and proxies
`<base_url>pnav/<path>` (HTTP and WebSocket) to the sidecar's `<path>` behind Jupyter's own auth.

The browser never sees the sidecar's token: the proxy adds it. Kernels inherit PNAV_SIDECAR_URL and
PNAV_SIDECAR_TOKEN from the server's environment.

Configured like any Jupyter extension, through the `PnavLab` class (`c.PnavLab.start_sidecar = False`
in jupyter_server_config.py, or `--PnavLab.start_sidecar=False`); the environment variables named in
each option's help are fallbacks for setups that cannot write Jupyter config.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import url_path_join
from tornado import httpclient, web, websocket
from tornado.ioloop import IOLoop
from traitlets import Bool, Float, List, Unicode, default
from traitlets.config import Configurable

from . import discovery
from .client import verified
from .contract import STREAM_PATH
from .errors import SidecarUnavailable
from .trusted_files import UntrustedPath
from .verified_transport import fetch_verified, websocket_connect_verified

PROXY_PREFIX = 'pnav'
# Paths the sidecar serves as WebSocket (the stream of samples and run events).
WEBSOCKET_PATHS = (STREAM_PATH.lstrip('/'),)
FORWARDED_REQUEST_HEADERS = ('Content-Type', 'Accept', 'Idempotency-Key')
FORWARDED_RESPONSE_HEADERS = ('Content-Disposition', 'Cache-Control', 'Retry-After', 'Location')
PROXY_TIMEOUT_S = 60.0


class PnavLab(Configurable):
    """PNAV Lab's server extension: finds or starts the sidecar and proxies `<base_url>pnav/` to it."""

    start_sidecar = Bool(
        help='Start a sidecar when none answers (one per user; it outlives this server). '
        'Fallback: PNAV_NO_SIDECAR_START=1 means False.'
    ).tag(config=True)

    sidecar_command = List(
        Unicode(),
        help='The command that starts a sidecar, e.g. ["pnav", "sidecar"]. Empty: PNAV_SIDECAR_CMD '
        '(shell-quoted), else the built sidecar of an editable install, else `pnav sidecar` on PATH.',
    ).tag(config=True)

    runtime_dir = Unicode(
        help="Directory of the sidecar's discovery file (pnav-sidecar.json). Empty: PNAV_RUNTIME_DIR, "
        "else JUPYTER_RUNTIME_DIR, else Jupyter's runtime directory.",
    ).tag(config=True)

    data_dir = Unicode(
        help='Data directory (runs, CSV outbox) of a sidecar this server starts, passed as --data-dir. '
        "Empty: PNAV_DATA_DIR, else the sidecar's default (~/.local/share/pnav-lab).",
    ).tag(config=True)

    proxy_timeout_s = Float(PROXY_TIMEOUT_S, help="Seconds the /pnav/ proxy waits for the sidecar's answer.").tag(
        config=True
    )

    @default('start_sidecar')
    def _start_sidecar_from_env(self) -> bool:
        return os.environ.get('PNAV_NO_SIDECAR_START') != '1'


class SidecarManager:
    """Finds or starts the sidecar; remembers whether we started it so shutdown stops only ours."""

    def __init__(
        self,
        log=None,
        spawn: bool = True,
        command: list[str] | None = None,
        runtime_dir: Path | None = None,
        data_dir: str | None = None,
    ):
        self.log = log
        self.spawn = spawn
        self.command = command or None
        self.runtime_dir = runtime_dir
        self.data_dir = data_dir or None
        # Set once the first `ensure` (run off the server's thread at load) has finished, found or not.
        self.first_look_done = threading.Event()
        self.endpoint: discovery.SidecarEndpoint | None = None
        self.process: subprocess.Popen | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def _healthy(self, endpoint) -> bool:
        """Answers and proves it holds its token (PNAV_SIDECAR_TOKEN from the env is never sent unproven)."""
        return verified(endpoint)

    def ensure(self) -> discovery.SidecarEndpoint | None:
        """The live endpoint, starting a sidecar when none answers. Blocking: call from a thread once serving."""
        with self._lock:
            self._reap()
            if self.endpoint is not None and self._healthy(self.endpoint):
                return self.endpoint
            self.endpoint = None
            try:
                # Whoever started Jupyter may have started the sidecar and exported its address.
                found = discovery.from_env()
                if found is None or not self._healthy(found):
                    found = self._runtime_file()
                if found is not None and self._healthy(found):
                    self.endpoint = found
                elif self.spawn:
                    self._retire()
                    self.endpoint, process = discovery.spawn_sidecar(
                        directory=self.runtime_dir,
                        command=self.command,
                        extra_args=['--data-dir', self.data_dir] if self.data_dir else None,
                        healthy=self._healthy,
                    )
                    if process is not None:
                        self.process = process
                self.error = None if self.endpoint else 'no sidecar is running'
            except SidecarUnavailable as error:
                self.error = str(error)
                if self.log:
                    self.log.warning('PNAV Lab: %s', error)
            if self.endpoint is not None:
                os.environ['PNAV_SIDECAR_URL'] = self.endpoint.url
                os.environ['PNAV_SIDECAR_TOKEN'] = self.endpoint.token
            return self.endpoint

    def _runtime_file(self) -> discovery.SidecarEndpoint | None:
        try:
            return discovery.read_runtime_file(self.runtime_dir)
        except UntrustedPath as error:  # refused and said why; a sidecar of ours replaces it
            if self.log:
                self.log.warning('PNAV Lab: %s', error)
            return None

    def _reap(self) -> None:
        """Collects our sidecar if it died (kill -9, OOM): unreaped it stays a zombie that looks alive."""
        if self.process is not None and self.process.poll() is not None:
            if self.log:
                self.log.warning(
                    'PNAV Lab: the sidecar (pid %s) exited with status %s; starting another',
                    self.process.pid,
                    self.process.returncode,
                )
            self.process = None
            self.endpoint = None

    def _retire(self) -> None:
        """Our previous sidecar no longer answers: make sure it is gone and reaped before starting another
        (it may have been killed a moment ago and not be a zombie yet when `_reap` looked)."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.poll() is None:
                process.terminate()
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=2)
        except OSError:
            pass

    def stop(self) -> None:
        """Stops the sidecar if this server started it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        except OSError:
            pass


def _error_body(code: str, message: str) -> str:
    return json.dumps({'error': {'code': code, 'message': message}})


class PnavProxyHandler(APIHandler):
    """`<base_url>pnav/<path>` → sidecar `<path>`, every method, body, status and content type kept."""

    def initialize(self, manager: SidecarManager, timeout_s: float = PROXY_TIMEOUT_S):
        self.manager = manager
        self.timeout_s = timeout_s

    def _upstream_target(self) -> str:
        prefix = url_path_join(self.base_url, PROXY_PREFIX) + '/'
        path = self.request.path[len(prefix) :] if self.request.path.startswith(prefix) else ''
        return path + (f'?{self.request.query}' if self.request.query else '')

    async def _endpoint(self, refresh: bool):
        if refresh or self.manager.endpoint is None:
            return await IOLoop.current().run_in_executor(None, self.manager.ensure)
        return self.manager.endpoint

    async def _fetch(self, endpoint):
        headers = {
            name: self.request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in self.request.headers
        }
        headers['Authorization'] = f'Bearer {endpoint.token}'
        body = self.request.body
        if self.request.method in ('POST', 'PUT', 'PATCH'):
            body = body or b''
        elif not body:
            body = None
        request = httpclient.HTTPRequest(
            f'{endpoint.url}/{self._upstream_target()}',
            method=self.request.method,
            headers=headers,
            body=body,
            allow_nonstandard_methods=True,
            follow_redirects=False,
            request_timeout=self.timeout_s,
            decompress_response=False,
        )
        try:
            return await fetch_verified(endpoint.token, urlsplit(endpoint.url).path, request)
        except (OSError, httpclient.HTTPClientError) as error:  # refused, reset, timeout, not the sidecar
            self._upstream_error = f'{type(error).__name__}: {error}'
            return None

    async def _proxy(self, *_args):
        endpoint = await self._endpoint(refresh=False)
        self._upstream_error = None
        response = await self._fetch(endpoint) if endpoint is not None else None
        if response is None or response.code == 599:  # connection error: the sidecar may have restarted
            endpoint = await self._endpoint(refresh=True)
            response = await self._fetch(endpoint) if endpoint is not None else None
        if response is None or response.code == 599:
            reason = (
                self.manager.error
                or self._upstream_error
                or (str(response.error) if response is not None else 'unreachable')
            )
            self.set_status(502)
            self.finish(_error_body('sidecar_unavailable', f'The PNAV sidecar is not reachable: {reason}'))
            return
        self.set_status(response.code, response.reason or 'Unknown')
        for name in FORWARDED_RESPONSE_HEADERS:
            if name in response.headers:
                self.set_header(name, response.headers[name])
        content_type = response.headers.get('Content-Type', 'application/octet-stream')
        if response.code in (204, 304) or self.request.method == 'HEAD':
            self.finish(set_content_type=content_type)
        else:
            self.finish(response.body or b'', set_content_type=content_type)

    get = post = put = patch = delete = head = web.authenticated(_proxy)


class PnavStreamProxyHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """WebSocket `<base_url>pnav/api/v1/stream` ↔ the sidecar's stream, frame for frame."""

    def initialize(self, manager: SidecarManager):
        self.manager = manager
        self.upstream = None

    async def get(self, path, *args, **kwargs):
        if self.current_user is None:
            raise web.HTTPError(403)
        endpoint = self.manager.endpoint or await IOLoop.current().run_in_executor(None, self.manager.ensure)
        for attempt in range(2):
            if endpoint is None:
                break
            request = httpclient.HTTPRequest(
                endpoint.url.replace('http', 'ws', 1) + '/' + path,
                headers={'Authorization': f'Bearer {endpoint.token}'},
                connect_timeout=5,
            )
            try:
                self.upstream = await websocket_connect_verified(
                    request, endpoint.token, urlsplit(endpoint.url).path, self._from_upstream
                )
                break
            except Exception:
                if attempt == 0:
                    endpoint = await IOLoop.current().run_in_executor(None, self.manager.ensure)
        if self.upstream is None:
            raise web.HTTPError(502, 'The PNAV sidecar is not reachable')
        await super().get(path, *args, **kwargs)

    def _from_upstream(self, message):
        if message is None:  # the sidecar closed the stream
            if self.ws_connection is not None:
                self.close()
            return
        if self.ws_connection is not None:
            self.write_message(message, binary=isinstance(message, bytes))

    def on_message(self, message):
        if self.upstream is not None:
            self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self):
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None


def handlers(base_url: str, manager: SidecarManager, proxy_timeout_s: float = PROXY_TIMEOUT_S) -> list:
    stream_paths = '|'.join(WEBSOCKET_PATHS)
    return [
        (url_path_join(base_url, PROXY_PREFIX, f'({stream_paths})'), PnavStreamProxyHandler, {'manager': manager}),
        (
            url_path_join(base_url, PROXY_PREFIX, '(.*)'),
            PnavProxyHandler,
            {'manager': manager, 'timeout_s': proxy_timeout_s},
        ),
    ]


def _first_look(manager: SidecarManager, log, base_url: str) -> None:
    """Finds or starts the sidecar once at load; requests that come earlier wait for it in `ensure`."""
    try:
        endpoint = manager.ensure()
        if endpoint is not None:
            log.info('PNAV Lab: sidecar at %s, proxied at %spnav/', endpoint.url, base_url)
    finally:
        manager.first_look_done.set()


def _load_jupyter_server_extension(serverapp) -> None:
    """Wires the proxy and the manager; the sidecar is found or started on a thread, never on the server's."""
    options = PnavLab(parent=serverapp)
    manager = SidecarManager(
        log=serverapp.log,
        spawn=options.start_sidecar,
        command=list(options.sidecar_command),
        runtime_dir=Path(options.runtime_dir) if options.runtime_dir else None,
        data_dir=options.data_dir,
    )
    base_url = serverapp.web_app.settings['base_url']
    serverapp.web_app.add_handlers('.*$', handlers(base_url, manager, options.proxy_timeout_s))
    serverapp.web_app.settings['pnav_sidecar_manager'] = manager
    atexit.register(manager.stop)
    threading.Thread(
        target=_first_look, args=(manager, serverapp.log, base_url), name='pnav-sidecar-first-look', daemon=True
    ).start()


def _jupyter_server_extension_points():
    return [{'module': 'pnav_lab.serverext'}]


load_jupyter_server_extension = _load_jupyter_server_extension
