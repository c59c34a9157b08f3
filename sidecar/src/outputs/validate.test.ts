import { describe, expect, it } from 'vitest';
import { normaliseToken, parseSubmitTarget, type SubmitValidationError } from './validate.js';

const GOOD = '0123456789abcdef'.repeat(4);
const MODEL_ID = 'a'.repeat(64);

function errorOf(input: object): SubmitValidationError {
  try {
    parseSubmitTarget(input);
  } catch (error) {
    return error as SubmitValidationError;
  }
  throw new Error('expected a validation error');
}

describe('submission validation (calculadorapnav: bad token, bad model id)', () => {
  it('accepts a 64-hex token, a lowercase model id and an https endpoint', () => {
    expect(parseSubmitTarget({ endpointUrl: 'https://x', token: GOOD, modelId: MODEL_ID })).toEqual({
      endpointUrl: 'https://x',
      token: GOOD,
      modelId: MODEL_ID,
    });
  });

  it('normalises the token like the prompt: lower case, strip, remove spaces', () => {
    expect(normaliseToken(`  ${GOOD.toUpperCase().slice(0, 10)} ${GOOD.slice(10)} `)).toBe(GOOD);
    expect(
      parseSubmitTarget({ endpointUrl: 'https://x', token: ` ${GOOD.toUpperCase()} `, modelId: MODEL_ID }).token,
    ).toBe(GOOD);
  });

  it.each([
    ['63 characters', GOOD.slice(1)],
    ['65 characters', `${GOOD}0`],
    ['a g', `g${GOOD.slice(1)}`],
    ['empty', ''],
  ])('rejects a token of %s without repeating it', (_name, token) => {
    const error = errorOf({ endpointUrl: 'https://x', token, modelId: MODEL_ID });
    expect(error.message).toBe(
      'invalid PNAV submission: token: must be 64 hexadecimal characters (upper case and spaces are normalised)',
    );
    if (token) expect(error.message).not.toContain(token);
  });

  it('rejects an uppercase model id, a non-http endpoint and a missing endpoint, naming the fields', () => {
    expect(errorOf({ endpointUrl: 'https://x', token: GOOD, modelId: 'A'.repeat(64) }).issues).toEqual([
      { path: 'modelId', message: 'must be 64 lowercase hexadecimal characters' },
    ]);
    expect(errorOf({ endpointUrl: 'ftp://x', token: GOOD, modelId: MODEL_ID }).issues).toEqual([
      { path: 'endpointUrl', message: 'must be an http:// or https:// URL' },
    ]);
    expect(errorOf({ token: GOOD, modelId: MODEL_ID }).issues).toEqual([
      { path: 'endpointUrl', message: 'is required: the full URL of the PNAV API endpoint' },
    ]);
  });

  it('refuses plain http:// to a host that is not loopback, saying why, unless explicitly allowed', () => {
    expect(errorOf({ endpointUrl: 'http://pnav.example.es/api', token: GOOD, modelId: MODEL_ID }).issues).toEqual([
      {
        path: 'endpointUrl',
        message:
          'must be https://: over http:// the PNAV token would travel in clear to pnav.example.es (only loopback ' +
          'addresses may use http://, unless you pass --allow-insecure-endpoint / allowInsecureEndpoint)',
      },
    ]);
    const allowed = {
      endpointUrl: 'http://pnav.example.es/api',
      token: GOOD,
      modelId: MODEL_ID,
      allowInsecureEndpoint: true,
    };
    expect(parseSubmitTarget(allowed).endpointUrl).toBe('http://pnav.example.es/api');
    for (const url of [
      'http://127.0.0.1:9/api',
      'http://localhost:8/x',
      'http://[::1]:7/',
      'https://pnav.example.es/',
    ]) {
      expect(parseSubmitTarget({ endpointUrl: url, token: GOOD, modelId: MODEL_ID }).endpointUrl).toBe(url);
    }
  });
});
