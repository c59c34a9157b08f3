import { describe, expect, it } from 'vitest';
import { normalizeToken, validateEndpointUrl, validateModelId, validateToken, validateUploadForm } from './validation';

const HEX = 'ab'.repeat(32);

describe('validateToken', () => {
  it('normalises like calculadorapnav: lower case, trimmed, spaces removed', () => {
    expect(normalizeToken(`  ${HEX.toUpperCase().slice(0, 10)} ${HEX.slice(10)} `)).toBe(HEX);
    expect(validateToken(` ${HEX.toUpperCase()} `)).toEqual({ ok: true, value: HEX });
  });

  it('rejects anything but 64 hexadecimal characters', () => {
    expect(validateToken('')).toEqual({ ok: false, message: 'The token is required.' });
    const wrong = { ok: false, message: 'The token must be a 64-character hexadecimal string.' };
    expect(validateToken(HEX.slice(1))).toEqual(wrong);
    expect(validateToken(`${HEX.slice(1)}g`)).toEqual(wrong);
    expect(validateToken(`${HEX}0`)).toEqual(wrong);
  });
});

describe('validateModelId', () => {
  it('accepts 64 lowercase hex and rejects upper case (no normalisation, as pydantic)', () => {
    expect(validateModelId(HEX)).toEqual({ ok: true, value: HEX });
    expect(validateModelId(HEX.toUpperCase())).toEqual({
      ok: false,
      message: 'The model id must be 64 lowercase hexadecimal characters.',
    });
    expect(validateModelId(' ')).toEqual({ ok: false, message: 'The model id is required.' });
  });
});

describe('validateEndpointUrl', () => {
  it('accepts http and https URLs only', () => {
    expect(validateEndpointUrl('https://pnav.example/api')).toEqual({ ok: true, value: 'https://pnav.example/api' });
    expect(validateEndpointUrl('http://127.0.0.1:8080/x')).toEqual({ ok: true, value: 'http://127.0.0.1:8080/x' });
    expect(validateEndpointUrl('ftp://x')).toEqual({ ok: false, message: 'The endpoint must be an http(s) URL.' });
    expect(validateEndpointUrl('http://')).toEqual({ ok: false, message: 'The endpoint URL is not valid.' });
  });
});

describe('validateUploadForm', () => {
  it('reports every bad field at once', () => {
    expect(validateUploadForm({ token: 'x', modelId: 'y', endpointUrl: 'z' })).toEqual({
      ok: false,
      errors: {
        token: 'The token must be a 64-character hexadecimal string.',
        modelId: 'The model id must be 64 lowercase hexadecimal characters.',
        endpointUrl: 'The endpoint must be an http(s) URL.',
      },
    });
  });

  it('returns the normalised values when valid', () => {
    expect(validateUploadForm({ token: HEX.toUpperCase(), modelId: HEX, endpointUrl: ' http://h/ ' })).toEqual({
      ok: true,
      value: { token: HEX, modelId: HEX, endpointUrl: 'http://h/' },
    });
  });
});
