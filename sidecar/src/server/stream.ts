/**
 * The WebSocket stream (`/api/v1/stream`) on the HTTP server's port: upgrades pass the same
 * Host/Origin/token checks as HTTP requests, then get a `hello` and every StreamMessage.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { HttpError } from '../api/errors.js';
import { API_PREFIX, type Status, type StreamMessage } from '../api/schemas.js';
import { checkHostAndOrigin, checkToken } from './guard.js';

/** A client this far behind is dropped rather than buffered without bound. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Bytes of a JSON text sent as a text frame (ws would send a Buffer as binary by default). */
const TEXT_FRAME = { binary: false } as const;

export interface StreamHubDeps {
  token: string;
  status: () => Status;
  log?: (msg: string) => void;
}

export class StreamHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  /** Each client with the socket under it, corked while a tick's frames are written. */
  private readonly clients = new Map<WebSocket, Duplex>();
  private readonly clientListeners: (() => void)[] = [];

  constructor(private readonly deps: StreamHubDeps) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Called after each client joins (the sampler speeds up for it). */
  onClient(listener: () => void): void {
    this.clientListeners.push(listener);
  }

  /** The HTTP server's 'upgrade' handler. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    try {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      if (pathname !== `${API_PREFIX}/stream`)
        throw new HttpError(404, 'not_found', `no WebSocket endpoint at ${pathname}`);
      checkHostAndOrigin(req.headers, req.socket.localPort ?? 0);
      checkToken(req.headers.authorization, this.deps.token);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(400, 'bad_request', 'bad upgrade request');
      refuse(socket, e);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, ws => this.add(ws, socket));
  }

  private add(ws: WebSocket, socket: Duplex): void {
    this.clients.set(ws, socket);
    ws.on('close', () => this.clients.delete(ws));
    ws.on('error', () => this.clients.delete(ws));
    ws.on('message', () => {}); // the stream is one-way; client frames are ignored
    try {
      ws.send(JSON.stringify({ type: 'hello', status: this.deps.status() } satisfies StreamMessage));
    } catch (err) {
      this.deps.log?.(`stream hello failed: ${(err as Error).message}`);
    }
    for (const listener of this.clientListeners) listener();
  }

  broadcast(message: StreamMessage): void {
    this.broadcastAll([message]);
  }

  /**
   * Sends several messages; each client gets them in one socket write (one syscall, not one per
   * frame). Each message is encoded once, to UTF-8 bytes, for every client (sent as text frames).
   */
  broadcastAll(messages: StreamMessage[]): void {
    if (this.clients.size === 0 || messages.length === 0) return;
    const data = messages.map(m => Buffer.from(JSON.stringify(m)));
    for (const [ws, socket] of this.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        ws.terminate();
        this.clients.delete(ws);
        continue;
      }
      socket.cork();
      for (const d of data) ws.send(d, TEXT_FRAME);
      socket.uncork();
    }
  }

  close(): void {
    for (const ws of this.clients.keys()) ws.close(1001, 'sidecar stopping');
    this.clients.clear();
    this.wss.close();
  }
}

function refuse(socket: Duplex, err: HttpError): void {
  const body = JSON.stringify(err.toBody());
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[err.status] ?? 'Bad Request';
  socket.end(
    `HTTP/1.1 ${err.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
