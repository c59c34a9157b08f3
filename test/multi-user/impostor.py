"""Mallory's listener: binds a loopback port (one a dead sidecar of another user had), accepts every
connection and records every byte it is sent into a capture file. It answers each request with 200 and a
JSON body that looks like a healthy sidecar's, including a made-up proof, to lure a client into sending more.

usage: impostor.py PORT CAPTURE_FILE READY_FILE
"""

import json
import socket
import sys
import threading

port, capture, ready = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ANSWER = json.dumps(
    {
        'ok': True,
        'version': '0.1.0',
        'proof': '0' * 64,
        'run': {'id': 'r1', 'status': 'open'},
        'runs': [],
        'uploads': [],
    }
).encode()
lock = threading.Lock()


def serve(conn):
    with conn:
        conn.settimeout(10)
        pending = b''
        while True:
            try:
                chunk = conn.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            with lock, open(capture, 'ab') as out:
                out.write(chunk)
            pending += chunk
            while b'\r\n\r\n' in pending:
                head, _, rest = pending.partition(b'\r\n\r\n')
                length = 0
                for line in head.split(b'\r\n')[1:]:
                    name, _, value = line.partition(b':')
                    if name.strip().lower() == b'content-length':
                        length = int(value.strip() or 0)
                if len(rest) < length:
                    break
                pending = rest[length:]
                conn.sendall(
                    b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: '
                    + str(len(ANSWER)).encode()
                    + b'\r\n\r\n'
                    + ANSWER
                )


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(('127.0.0.1', port))
listener.listen(64)
open(ready, 'w').close()
while True:
    connection, _ = listener.accept()
    threading.Thread(target=serve, args=(connection,), daemon=True).start()
