/**
 * Who may talk to a real sidecar: bearer token, Host (DNS rebinding), Origin (browsers), the same
 * checks on WebSocket upgrades; owner-only files; loopback-only listening.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { request, type SidecarProcess, startSidecar } from '../faults/support/sidecar-process.js';

let a: SidecarProcess;
let b: SidecarProcess;

beforeAll(async () => {
  [a, b] = await Promise.all([startSidecar(), startSidecar()]);
  // A run, so the store has files whose modes we can check.
  const r = await request(a, 'POST', '/api/v1/runs', { body: { kind: 'manual' } });
  expect(r.status).toBe(201);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const ROUTES: [string, string][] = [
  ['GET', '/healthz'],
  ['GET', '/api/v1/status'],
  ['GET', '/api/v1/runs'],
  ['POST', '/api/v1/runs'],
  ['GET', '/api/v1/openapi.json'],
  ['GET', '/metrics'],
];

describe('bearer token', () => {
  it.each(ROUTES)('%s %s without a token is 401 unauthorized', async (method, route) => {
    const r = await request(a, method, route, {
      headers: { authorization: undefined },
      body: method === 'POST' ? {} : undefined,
    });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('unauthorized');
    expect(r.json.error.message).toBe('missing Authorization: Bearer <token> header');
  });

  it.each(ROUTES)('%s %s with a wrong token is 401 unauthorized', async (method, route) => {
    const r = await request(a, method, route, {
      headers: { authorization: `Bearer ${'0'.repeat(a.token.length)}` },
      body: method === 'POST' ? {} : undefined,
    });
    expect(r.status).toBe(401);
    expect(r.json.error).toEqual({ code: 'unauthorized', message: 'invalid bearer token' });
  });

  it('a token of another runtime dir (another sidecar) is refused', async () => {
    expect(a.token).not.toBe(b.token);
    const r = await request(a, 'GET', '/api/v1/status', { headers: { authorization: `Bearer ${b.token}` } });
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('unauthorized');
    const ok = await request(b, 'GET', '/api/v1/status');
    expect(ok.status).toBe(200);
  });

  it('a malformed Authorization header is 401, not a crash', async () => {
    for (const value of ['Basic abc', 'Bearer', `Bearer ${a.token} extra`, 'Bearer \u00e9']) {
      const r = await request(a, 'GET', '/api/v1/status', { headers: { authorization: value } });
      expect(r.status, value).toBe(401);
    }
  });
});

describe('Host header (DNS rebinding)', () => {
  it.each(['evil.example.com', `evil.example.com:${0}`, '127.0.0.1.nip.io', '10.0.0.1', '0.0.0.0'])(
    'Host %s is 403 forbidden_host even with the right token',
    async host => {
      const value = host.endsWith(':0') ? host.replace(':0', `:${a.port}`) : `${host}:${a.port}`;
      const r = await request(a, 'GET', '/api/v1/status', { headers: { host: value } });
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe('forbidden_host');
    },
  );

  it('a loopback Host with another port is refused too', async () => {
    const r = await request(a, 'GET', '/api/v1/status', { headers: { host: `127.0.0.1:${b.port}` } });
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('forbidden_host');
  });

  it('localhost and 127.0.0.1 with our port are accepted', async () => {
    for (const host of [`localhost:${a.port}`, `127.0.0.1:${a.port}`]) {
      const r = await request(a, 'GET', '/api/v1/status', { headers: { host } });
      expect(r.status, host).toBe(200);
    }
  });
});

describe('Origin header', () => {
  it.each(['http://evil.example.com', `http://evil.example.com:${0}`, 'null', 'file://', `https://127.0.0.1:1`])(
    'Origin %s is 403 forbidden_origin',
    async origin => {
      const r = await request(a, 'GET', '/api/v1/status', { headers: { origin } });
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe('forbidden_origin');
    },
  );
});

function upgrade(
  sc: SidecarProcess,
  headers: Record<string, string>,
): Promise<{ status: number; firstMessage?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${sc.port}/api/v1/stream`, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('message', data => {
      resolve({ status: 101, firstMessage: String(data) });
      ws.close();
    });
    ws.once('error', err => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe('WebSocket upgrade', () => {
  it('with the token and our own origin: accepted, the first frame is hello', async () => {
    const r = await upgrade(a, { authorization: `Bearer ${a.token}`, origin: `http://127.0.0.1:${a.port}` });
    expect(r.status).toBe(101);
    expect(JSON.parse(r.firstMessage!).type).toBe('hello');
  });

  it('from a foreign Origin: 403, even with the token', async () => {
    const r = await upgrade(a, { authorization: `Bearer ${a.token}`, origin: 'http://evil.example.com' });
    expect(r.status).toBe(403);
  });

  it('without a token: 401', async () => {
    const r = await upgrade(a, { origin: `http://127.0.0.1:${a.port}` });
    expect(r.status).toBe(401);
  });

  it('with another sidecar token: 401', async () => {
    const r = await upgrade(a, { authorization: `Bearer ${b.token}` });
    expect(r.status).toBe(401);
  });

  it('with a foreign Host: 403', async () => {
    const r = await upgrade(a, { authorization: `Bearer ${a.token}`, host: `evil.example.com:${a.port}` });
    expect(r.status).toBe(403);
  });
});

describe('files and sockets', () => {
  const mode = (p: string) => fs.statSync(p).mode & 0o777;

  it('the runtime file (it holds the token) is 0600 and its directory private', () => {
    expect(mode(path.join(a.runtimeDir, 'pnav-sidecar.json'))).toBe(0o600);
    expect(mode(a.runtimeDir) & 0o077).toBe(0);
  });

  it('the data dir is 0700 and every file in it is owner-only', () => {
    expect(mode(a.dataDir)).toBe(0o700);
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) {
          expect(mode(p) & 0o077, p).toBe(0);
          walk(p);
        } else files.push(p);
      }
    };
    walk(a.dataDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(mode(f) & 0o077, f).toBe(0);
  });

  it('the token appears nowhere in the data dir nor in the sidecar output', () => {
    const walk = (d: string): string[] =>
      fs
        .readdirSync(d, { withFileTypes: true })
        .flatMap(e => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]));
    for (const f of walk(a.dataDir)) expect(fs.readFileSync(f, 'utf8').includes(a.token), f).toBe(false);
    expect(a.output().includes(a.token)).toBe(false);
  });

  it('listens on 127.0.0.1 only (by default), nothing on a wildcard or external address', () => {
    expect(new URL(a.url).hostname).toBe('127.0.0.1');
    const listening = listeningAddresses(a.port);
    expect(listening.length).toBeGreaterThan(0);
    expect(listening.every(addr => addr === '127.0.0.1' || addr === '::1')).toBe(true);
  });
});

/** Local addresses in LISTEN state on `port`, from /proc/net/tcp{,6} (no tools needed). */
function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local) continue; // 0A = LISTEN
      const [hex, portHex] = local.split(':');
      if (Number.parseInt(portHex!, 16) !== port) continue;
      out.push(hex!.length === 8 ? ipv4(hex!) : ipv6(hex!));
    }
  }
  return out;
}

function ipv4(hex: string): string {
  // little-endian 32-bit
  return [3, 2, 1, 0].map(i => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
}

function ipv6(hex: string): string {
  if (hex === '00000000000000000000000001000000') return '::1';
  if (/^0+$/.test(hex)) return '::';
  return hex;
}
