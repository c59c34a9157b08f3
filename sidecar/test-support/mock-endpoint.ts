/** Starts `createMockPnavApp` on a real loopback port (0 = any, or a given one) for tests. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMockPnavApp, type MockPnavOptions, type ReceivedRequest } from '../src/outputs/outbox/mock-server.js';

export interface MockEndpoint {
  url: string;
  port: number;
  control(body: object): Promise<void>;
  received(): Promise<{ received: ReceivedRequest[]; accepted: number }>;
  close(): Promise<void>;
}

export async function startMockEndpoint(port = 0, options: MockPnavOptions = {}): Promise<MockEndpoint> {
  const server: Server = await new Promise((resolve, reject) => {
    const s = createMockPnavApp(options).listen(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const actual = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${actual}`;
  return {
    url: `${base}/v1/emissions`,
    port: actual,
    async control(body) {
      const r = await fetch(`${base}/__control`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (!r.ok) throw new Error(`control failed: ${r.status}`);
    },
    async received() {
      return (await (await fetch(`${base}/__received`)).json()) as { received: ReceivedRequest[]; accepted: number };
    },
    close: () =>
      new Promise(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Polls until `check` returns a value (or throws after `timeoutMs`). */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise(resolve => setTimeout(resolve, 20));
  }
}
