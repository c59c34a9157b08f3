/** Serves the app and the WebSocket stream on one loopback port. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import type { HotRoutes } from './hot-routes.js';
import type { StreamHub } from './stream.js';

export interface RunningServer {
  server: http.Server;
  port: number;
  /** http://<host>:<port> (IPv6 hosts bracketed). */
  url: string;
  close(): Promise<void>;
}

/** `hot`: requests it takes (open and close a run) skip express's router (hot-routes.ts). */
export function listen(
  app: express.Express,
  hub: StreamHub,
  host: string,
  port: number,
  hot?: HotRoutes,
): Promise<RunningServer> {
  const server = http.createServer(hot ? (req, res) => hot(req, res) || app(req, res) : app);
  server.on('upgrade', (req, socket, head) => hub.handleUpgrade(req, socket, head));
  // Loopback clients are trusted to be quick; these keep a stuck one from pinning a socket forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        server,
        port: address.port,
        url: `http://${urlHost}:${address.port}`,
        close: () =>
          new Promise<void>(done => {
            hub.close();
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
