"""Tornado transport for the Jupyter proxy that only sends the sidecar's token to the sidecar.

Tornado opens a new connection per proxied request, so a check made earlier proves nothing about the
socket the token then goes over (the sidecar may have died and another user bound its port). Here every
connection is checked before tornado writes the request onto it: the socket must not belong to another
user (Linux `/proc/net/tcp`), and the peer must answer the HMAC challenge (peer.py) on that same
keep-alive connection.
"""

from __future__ import annotations

from tornado import httpclient, httputil, simple_httpclient, tcpclient, websocket

from . import peer

CHALLENGE_MAX_BYTES = 65_536


class VerifiedTCPClient(tcpclient.TCPClient):
    """A TCPClient whose streams lead to the process holding `token`; NotTheSidecar otherwise."""

    def __init__(self, token: str, base_path: str = '', resolver=None):
        super().__init__(resolver=resolver)
        self._token = token
        self._base_path = base_path.rstrip('/')

    async def connect(self, host, port, *args, **kwargs):
        stream = await super().connect(host, port, *args, **kwargs)
        try:
            await self._verify(stream, host, port)
        except BaseException:
            stream.close()
            raise
        return stream

    async def _verify(self, stream, host: str, port: int) -> None:
        where = f'{host}:{port}'
        foreign = peer.foreign_owner_reason(stream.socket)
        if foreign:
            raise peer.NotTheSidecar(
                f'the process at {where} is not the PNAV sidecar ({foreign}); its token was not sent'
            )
        challenge = peer.new_challenge()
        host_header = f'[{host}]:{port}' if ':' in host else f'{host}:{port}'
        await stream.write(
            f'GET {self._base_path}/healthz?challenge={challenge} HTTP/1.1\r\nHost: {host_header}\r\n'
            'Accept: application/json\r\n\r\n'.encode('ascii')
        )
        head = await stream.read_until(b'\r\n\r\n', max_bytes=CHALLENGE_MAX_BYTES)
        status_line, _, header_text = head.decode('latin-1').partition('\r\n')
        first_line = httputil.parse_response_start_line(status_line)
        headers = httputil.HTTPHeaders.parse(header_text)
        length = int(headers.get('Content-Length', '0'))
        if length > CHALLENGE_MAX_BYTES:
            raise peer.NotTheSidecar(f'the process at {where} answered the challenge with {length} bytes')
        body = await stream.read_bytes(length) if length else b''
        if first_line.code != 200 or not peer.proof_matches(self._token, challenge, peer.challenge_body_proof(body)):
            raise peer.NotTheSidecar(
                f'the process at {where} did not prove it is the PNAV sidecar '
                f'(it answered {first_line.code} without the proof); its token was not sent'
            )
        if headers.get('Connection', '').lower() == 'close':
            raise ConnectionResetError(f'the sidecar at {where} closed the connection after proving itself')


class VerifiedHTTPClient(simple_httpclient.SimpleAsyncHTTPClient):
    """A one-use HTTP client (`force_instance=True`) whose connections are VerifiedTCPClient's."""

    def initialize(self, token: str, base_path: str = '', **kwargs):  # type: ignore[override]
        super().initialize(**kwargs)
        self.tcp_client.close()
        self.tcp_client = VerifiedTCPClient(token, base_path, resolver=self.resolver)


async def fetch_verified(token: str, base_path: str, request: httpclient.HTTPRequest) -> httpclient.HTTPResponse:
    client = VerifiedHTTPClient(force_instance=True, token=token, base_path=base_path)
    try:
        return await client.fetch(request, raise_error=False)
    finally:
        client.close()


class _VerifiedWebSocketClientConnection(websocket.WebSocketClientConnection):
    def __init__(self, request, token: str, base_path: str, **kwargs):
        super().__init__(request, **kwargs)
        # The connection starts on the next loop turn, so replacing the client here is in time.
        self.tcp_client.close()
        self.tcp_client = VerifiedTCPClient(token, base_path)


def websocket_connect_verified(request: httpclient.HTTPRequest, token: str, base_path: str, on_message_callback):
    """`websocket.websocket_connect` over a verified connection; returns the connect future."""
    # What websocket_connect does to a request before handing it over: header object, defaults filled in.
    request.headers = httputil.HTTPHeaders(request.headers)
    request = httpclient._RequestProxy(request, httpclient.HTTPRequest._DEFAULTS)
    connection = _VerifiedWebSocketClientConnection(
        request, token=token, base_path=base_path, on_message_callback=on_message_callback
    )
    return connection.connect_future
