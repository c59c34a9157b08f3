import { describe, expect, it } from 'vitest';
import { checkHostAndOrigin, checkToken, tokenMatches } from './guard.js';

const PORT = 4321;
const ok = (headers: Record<string, string>) => () => checkHostAndOrigin(headers, PORT);

describe('checkHostAndOrigin', () => {
  it('accepts loopback names with our port', () => {
    for (const host of [`127.0.0.1:${PORT}`, `localhost:${PORT}`, `LOCALHOST:${PORT}`, `[::1]:${PORT}`]) {
      expect(ok({ host })).not.toThrow();
    }
    expect(ok({ host: `localhost:${PORT}`, origin: `http://127.0.0.1:${PORT}` })).not.toThrow();
  });

  it('refuses other names, other ports and a missing Host', () => {
    expect(ok({ host: `evil.example:${PORT}` })).toThrow(
      `Host 'evil.example:${PORT}' is not this sidecar's loopback address`,
    );
    expect(ok({ host: `127.0.0.1:${PORT + 1}` })).toThrow(/is not this sidecar's loopback address/);
    expect(ok({ host: '127.0.0.1' })).toThrow(/is not this sidecar's loopback address/);
    expect(ok({ host: `127.0.0.1.evil.example:${PORT}` })).toThrow(/is not this sidecar's loopback address/);
    expect(ok({})).toThrow('Host header is required');
  });

  it('refuses foreign, null and https origins', () => {
    const host = `127.0.0.1:${PORT}`;
    expect(ok({ host, origin: 'http://localhost:8888' })).toThrow("Origin 'http://localhost:8888' is not allowed");
    expect(ok({ host, origin: 'null' })).toThrow("Origin 'null' is not allowed");
    expect(ok({ host, origin: `https://evil.example:${PORT}` })).toThrow(/is not allowed/);
  });
});

describe('bearer token', () => {
  const token = 'f'.repeat(64);
  it('matches only the exact token', () => {
    expect(tokenMatches(`Bearer ${token}`, token)).toBe(true);
    expect(tokenMatches(`bearer ${token}`, token)).toBe(true);
    expect(tokenMatches(`Bearer ${token}x`, token)).toBe(false);
    expect(tokenMatches(`Basic ${token}`, token)).toBe(false);
    expect(tokenMatches(undefined, token)).toBe(false);
  });
  it('says whether it was missing or wrong', () => {
    expect(() => checkToken(undefined, token)).toThrow('missing Authorization: Bearer <token> header');
    expect(() => checkToken('Bearer nope', token)).toThrow('invalid bearer token');
  });
});
