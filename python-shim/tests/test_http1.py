"""The minimal HTTP/1.1 connection against a real HTTP server (the standard library's), and a real sidecar."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from pnav_lab.http1 import Connection, ProtocolError


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == '/chunked':
            self.send_response(200)
            self.send_header('Transfer-Encoding', 'chunked')
            self.end_headers()
            for part in (b'hello ', b'world'):
                self.wfile.write(f'{len(part):x}\r\n'.encode() + part + b'\r\n')
            self.wfile.write(b'0\r\n\r\n')
        elif self.path == '/empty':
            self.send_response(204)
            self.end_headers()
        else:
            body = self.path.encode()
            self.send_response(200)
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        self.send_response(201)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_keep_alive_content_length_chunked_and_no_body(server):
    connection = Connection('127.0.0.1', server, 2)
    try:
        first = connection.request('GET', '/a', {}, None)
        second = connection.request('GET', '/chunked', {}, None)  # same socket
        third = connection.request('GET', '/empty', {}, None)
        assert (first.status, first.body, first.will_close) == (200, b'/a', False)
        assert (second.status, second.body) == (200, b'hello world')
        assert (third.status, third.body) == (204, b'')
        posted = connection.request('POST', '/x', {'Content-Type': 'application/json'}, b'{"n":1}')
        assert (posted.status, posted.body, posted.will_close) == (201, b'{"n":1}', True)
    finally:
        connection.close()


def test_a_peer_that_hangs_up_is_a_protocol_error():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    connection = Connection('127.0.0.1', listener.getsockname()[1], 2)
    peer, _ = listener.accept()
    peer.close()
    try:
        with pytest.raises(ProtocolError, match='^the sidecar closed the connection$'):
            connection.request('GET', '/', {}, None)
    finally:
        connection.close()
        listener.close()


def test_sidecar_answers(sidecar):
    host, port = sidecar.url.removeprefix('http://').split(':')
    connection = Connection(host, int(port), 2)
    try:
        response = connection.request('GET', '/healthz', {'Authorization': f'Bearer {sidecar.token}'}, None)
        assert response.status == 200 and b'"ok":true' in response.body
        assert connection.request('GET', '/healthz', {}, None).status == 401
    finally:
        connection.close()
