"""A minimal HTTP/1.1 client connection for the loopback sidecar: one `sendall` per request, a buffered read
of the answer, keep-alive, and pipelining (send now, read the answer later). `http.client` costs ~0.2 ms
more per request (email-based header parsing), and every `%%pnav` cell makes two requests."""

from __future__ import annotations

import socket


class ProtocolError(ConnectionError):
    """The peer closed the connection or answered something that is not HTTP/1.1."""


class Response:
    __slots__ = ('status', 'headers', 'body', 'will_close')

    def __init__(self, status: int, headers: dict, body: bytes, will_close: bool):
        self.status, self.headers, self.body, self.will_close = status, headers, body, will_close


class Connection:
    def __init__(self, host: str, port: int, timeout_s: float):
        self.host_header = f'{host}:{port}'.encode('ascii')
        self.sock = socket.create_connection((host, port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile('rb')

    def settimeout(self, timeout_s: float) -> None:
        self.sock.settimeout(timeout_s)

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()

    def request(self, method: str, path: str, headers: dict, body: bytes | None) -> Response:
        self.send(method, path, headers, body)
        return self.read_response(method)

    def send(self, method: str, path: str, headers: dict, body: bytes | None) -> None:
        """Sends a request without reading its answer: several may be in flight, answered in order."""
        lines = [f'{method} {path} HTTP/1.1'.encode('ascii'), b'Host: ' + self.host_header]
        lines += [f'{name}: {value}'.encode('latin-1') for name, value in headers.items()]
        if body is not None or method in ('POST', 'PUT', 'PATCH'):
            lines.append(f'Content-Length: {len(body or b"")}'.encode('ascii'))
        self.sock.sendall(b'\r\n'.join(lines) + b'\r\n\r\n' + (body or b''))

    def _line(self) -> bytes:
        line = self.reader.readline(65537)
        if not line:
            raise ProtocolError('the sidecar closed the connection')
        return line

    def read_response(self, method: str) -> Response:
        status_line = self._line()
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b'HTTP/1.'):
            raise ProtocolError(f'not an HTTP/1.1 answer: {status_line[:80]!r}')
        try:
            status = int(parts[1])
        except ValueError:
            raise ProtocolError(f'not an HTTP/1.1 answer: {status_line[:80]!r}') from None
        headers: dict = {}
        while True:
            line = self._line()
            if line in (b'\r\n', b'\n'):
                break
            name, _, value = line.decode('latin-1').partition(':')
            headers[name.strip().lower()] = value.strip()
        will_close = headers.get('connection', '').lower() == 'close' or parts[0] == b'HTTP/1.0'
        if method == 'HEAD' or status in (204, 304) or 100 <= status < 200:
            body = b''
        elif 'chunked' in headers.get('transfer-encoding', '').lower():
            body = self._read_chunked()
        elif 'content-length' in headers:
            try:
                length = int(headers['content-length'])
            except ValueError:
                raise ProtocolError('invalid Content-Length') from None
            body = self.reader.read(length)
            if len(body) != length:
                raise ProtocolError('the sidecar closed the connection mid-body')
        else:
            body, will_close = self.reader.read(), True
        return Response(status, headers, body, will_close)

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            try:
                size = int(self._line().split(b';', 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError('invalid chunk size') from None
            if size == 0:
                while self._line() not in (b'\r\n', b'\n'):  # trailers
                    pass
                return b''.join(chunks)
            chunk = self.reader.read(size)
            if len(chunk) != size:
                raise ProtocolError('the sidecar closed the connection mid-chunk')
            chunks.append(chunk)
            self._line()
