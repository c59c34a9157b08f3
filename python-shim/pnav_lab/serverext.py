"""The Jupyter server extension: makes sure a sidecar runs, hands its address to kernels, and proxies
`<base_url>pnav/<path>` (HTTP and WebSocket) to the sidecar's `<path>` behind Jupyter's own auth.

The browser never sees the sidecar's token: the proxy adds it. Kernels inherit PNAV_SIDECAR_URL and
PNAV_SIDECAR_TOKEN from the server's environment.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import threading

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import url_path_join
from tornado import httpclient, web, websocket
from tornado.ioloop import IOLoop

from . import discovery
from .client import SidecarClient
from .contract import STREAM_PATH
from .errors import SidecarUnavailable

PROXY_PREFIX = 'pnav'
# Paths the sidecar serves as WebSocket (the stream of samples and run events).
WEBSOCKET_PATHS = (STREAM_PATH.lstrip('/'),)
FORWARDED_REQUEST_HEADERS = ('Content-Type', 'Accept', 'Idempotency-Key')
FORWARDED_RESPONSE_HEADERS = ('Content-Disposition', 'Cache-Control', 'Retry-After', 'Location')
PROXY_TIMEOUT_S = 60.0


class SidecarManager:
    """Finds or starts the sidecar; remembers whether we started it so shutdown stops only ours."""

    def __init__(self, log=None, spawn: bool = True):
        self.log = log
        self.spawn = spawn
        self.endpoint: discovery.SidecarEndpoint | None = None
        self.process: subprocess.Popen | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def _healthy(self, endpoint) -> bool:
        probe = SidecarClient(endpoint, start=False)
        try:
            return probe.request('GET', '/healthz', retry=False).get('ok') is True
        except Exception:
            return False
        finally:
            probe.close()

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
                    found = discovery.read_runtime_file()
                if found is not None and self._healthy(found):
                    self.endpoint = found
                elif self.spawn:
                    self._retire()
                    self.endpoint, process = discovery.spawn_sidecar(healthy=self._healthy)
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

    def initialize(self, manager: SidecarManager):
        self.manager = manager

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
            request_timeout=PROXY_TIMEOUT_S,
            decompress_response=False,
        )
        try:
            return await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, httpclient.HTTPClientError) as error:  # connection refused, reset, timeout
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
                self.upstream = await websocket.websocket_connect(request, on_message_callback=self._from_upstream)
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


def handlers(base_url: str, manager: SidecarManager) -> list:
    stream_paths = '|'.join(WEBSOCKET_PATHS)
    return [
        (url_path_join(base_url, PROXY_PREFIX, f'({stream_paths})'), PnavStreamProxyHandler, {'manager': manager}),
        (url_path_join(base_url, PROXY_PREFIX, '(.*)'), PnavProxyHandler, {'manager': manager}),
    ]


def _load_jupyter_server_extension(serverapp) -> None:
    manager = SidecarManager(log=serverapp.log, spawn=os.environ.get('PNAV_NO_SIDECAR_START') != '1')
    manager.ensure()
    if manager.endpoint is not None:
        serverapp.log.info(
            'PNAV Lab: sidecar at %s, proxied at %spnav/', manager.endpoint.url, serverapp.web_app.settings['base_url']
        )
    serverapp.web_app.add_handlers('.*$', handlers(serverapp.web_app.settings['base_url'], manager))
    serverapp.web_app.settings['pnav_sidecar_manager'] = manager
    atexit.register(manager.stop)


def _jupyter_server_extension_points():
    return [{'module': 'pnav_lab.serverext'}]


load_jupyter_server_extension = _load_jupyter_server_extension
