import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServerConnection } from '@jupyterlab/services';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { makeRun } from '../test-support/fixtures';
import { type ConnectionState, SidecarStream } from './stream';
import type { ISample, IStatus } from './types';

const STATUS = { version: '1.0.0', sources: [] } as unknown as IStatus;
const sample = (t: number): ISample => ({ t, powerW: { cpu: 10, gpu: null, ram: 2 }, totalPowerW: 12 });

interface IFakeSidecar {
  server: Server;
  sockets: WebSocketServer;
  settings: ServerConnection.ISettings;
  httpSamples: ISample[];
}

const started: { stream?: SidecarStream; sidecar?: IFakeSidecar }[] = [];

/** A real HTTP + WebSocket server answering like the /pnav/ proxy in front of the sidecar. */
async function fakeSidecar(): Promise<IFakeSidecar> {
  const httpSamples: ISample[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (value: unknown) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === '/pnav/api/v1/status') return json(STATUS);
    if (url.pathname === '/pnav/api/v1/samples') {
      const since = Number(url.searchParams.get('sinceMs') ?? 0);
      return json({ samples: httpSamples.filter(s => s.t >= since) });
    }
    if (url.pathname === '/pnav/api/v1/runs') return json({ runs: [makeRun('open-1', { status: 'open' })] });
    res.writeHead(404);
    res.end();
  });
  const sockets = new WebSocketServer({ server, path: '/pnav/api/v1/stream' });
  await new Promise<void>(ok => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  const settings = ServerConnection.makeSettings({
    baseUrl: `http://127.0.0.1:${port}/`,
    wsUrl: `ws://127.0.0.1:${port}/`,
    token: 't',
  });
  return { server, sockets, settings, httpSamples };
}

function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  return new Promise((ok, fail) => {
    const start = Date.now();
    const tick = () => {
      if (predicate()) return ok();
      if (Date.now() - start > timeoutMs) return fail(new Error('condition not met in time'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

afterEach(async () => {
  for (const { stream, sidecar } of started.splice(0)) {
    stream?.dispose();
    if (sidecar) {
      for (const client of sidecar.sockets.clients) client.terminate();
      sidecar.sockets.close();
      await new Promise<void>(ok => sidecar.server.close(() => ok()));
    }
  }
});

describe('SidecarStream', () => {
  it('goes live and relays hello, samples and run events from the WebSocket', async () => {
    const sidecar = await fakeSidecar();
    sidecar.sockets.on('connection', socket => {
      socket.send(JSON.stringify({ type: 'hello', status: STATUS }));
      socket.send(JSON.stringify({ type: 'sample', sample: sample(1000) }));
      socket.send('not json');
      socket.send(JSON.stringify({ type: 'run', event: 'opened', run: makeRun('r1', { status: 'open' }) }));
    });
    const stream = new SidecarStream({ serverSettings: sidecar.settings, WebSocket: WebSocket as never });
    started.push({ stream, sidecar });
    const states: ConnectionState[] = [];
    const samples: number[] = [];
    const events: string[] = [];
    stream.stateChanged.connect((_, s) => states.push(s));
    stream.sample.connect((_, s) => samples.push(s.t));
    stream.runEvent.connect((_, e) => events.push(`${e.event}:${e.run.id}`));
    stream.start();
    await until(() => events.length === 1);
    expect(states).toEqual(['live']);
    expect(samples).toEqual([1000]);
    expect(events).toEqual(['opened:r1']);
    expect(stream.lastStatus?.version).toBe('1.0.0');
  });

  it('falls back to HTTP polling when the socket drops, without repeating samples', async () => {
    const sidecar = await fakeSidecar();
    sidecar.sockets.on('connection', socket => {
      socket.send(JSON.stringify({ type: 'sample', sample: sample(1000) }));
      // The socket goes away; later connections are refused from here on.
      setTimeout(() => {
        sidecar.sockets.removeAllListeners('connection');
        sidecar.sockets.on('connection', s => s.terminate());
        socket.terminate();
      }, 50);
    });
    sidecar.httpSamples.push(sample(1000), sample(2000));
    const stream = new SidecarStream({
      serverSettings: sidecar.settings,
      WebSocket: WebSocket as never,
      reconnectMinMs: 5000,
      pollIntervalMs: 100,
    });
    started.push({ stream, sidecar });
    const samples: number[] = [];
    const events: string[] = [];
    stream.sample.connect((_, s) => samples.push(s.t));
    stream.runEvent.connect((_, e) => events.push(`${e.event}:${e.run.id}`));
    stream.start();
    await until(() => stream.state === 'polling' && samples.length === 2);
    expect(samples).toEqual([1000, 2000]);
    expect(events[0]).toBe('opened:open-1');
  });

  it('says the sidecar is unreachable when neither the socket nor HTTP answers', async () => {
    const settings = ServerConnection.makeSettings({ baseUrl: 'http://127.0.0.1:9/', wsUrl: 'ws://127.0.0.1:9/' });
    const stream = new SidecarStream({
      serverSettings: settings,
      WebSocket: WebSocket as never,
      reconnectMinMs: 5000,
      pollIntervalMs: 100,
    });
    started.push({ stream });
    stream.start();
    await until(() => stream.state === 'unreachable');
    expect(stream.state).toBe('unreachable');
  });
});
