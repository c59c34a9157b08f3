import { describe, expect, it } from 'vitest';
import { ExportRequestSchema, UploadRequestSchema } from '../outputs/schemas.js';
import { HttpError } from './errors.js';
import { OpenRunRequestSchema, PatchRunRequestSchema, PutConfigRequestSchema } from './schemas.js';
import { parseOr400 } from './validate.js';

function failure(run: () => unknown): { status: number; message: string; issues: unknown } {
  try {
    run();
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { status: err.status, message: err.message, issues: err.issues };
  }
  throw new Error('expected a 400');
}

describe('parseOr400', () => {
  it('names each unknown key of a request body', () => {
    expect(failure(() => parseOr400(PatchRunRequestSchema, { bogusKey: 1 }))).toEqual({
      status: 400,
      message: 'bogusKey: unknown field',
      issues: [{ path: 'bogusKey', message: 'unknown field' }],
    });
    expect(failure(() => parseOr400(OpenRunRequestSchema, { countryIso3: 'ESP', client: { shell: 'zsh' } }))).toEqual({
      status: 400,
      message: 'client.shell: unknown field (and 1 more)',
      issues: [
        { path: 'client.shell', message: 'unknown field' },
        { path: 'countryIso3', message: 'unknown field' },
      ],
    });
  });

  it('refuses unknown keys in the PNAV output and config requests too', () => {
    expect(
      failure(() => parseOr400(ExportRequestSchema, { format: 'csv', runIds: ['a'], fromat: 'json' })).message,
    ).toBe('fromat: unknown field');
    const upload = {
      endpointUrl: 'https://x/',
      token: 'b'.repeat(64),
      modelId: 'a'.repeat(64),
      runIds: ['a'],
      typeProcess: 'training',
    };
    expect(failure(() => parseOr400(UploadRequestSchema, { ...upload, modelID: 'x' })).message).toBe(
      'modelID: unknown field',
    );
    expect(failure(() => parseOr400(PutConfigRequestSchema, { key: 'pue', value: 1.2, scpoe: 'user' })).message).toBe(
      'scpoe: unknown field',
    );
  });

  it('names the unknown keys of a config write in the issue message (the config router reports it as is)', () => {
    const parsed = PutConfigRequestSchema.safeParse({ key: 'pue', value: 1.2, bogus: 1, other: 2 });
    expect(parsed.error?.issues.map(i => i.message)).toEqual(['unknown field: bogus, other']);
  });

  it("accepts a well-formed country the factors lack (it resolves to Spain, as calculadorapnav's fallback); refuses a malformed one", () => {
    expect(parseOr400(OpenRunRequestSchema, { country: 'XXX' }).country).toBe('XXX');
    expect(failure(() => parseOr400(OpenRunRequestSchema, { country: 'esp' })).message).toBe(
      'country: must be an ISO 3166-1 alpha-3 code in upper case, e.g. ESP',
    );
    expect(parseOr400(OpenRunRequestSchema, { country: 'ESP' }).country).toBe('ESP');
  });

  it('answers a body that is not an object with "body: expected an object"', () => {
    for (const body of [null, [], 1, 'text']) {
      expect(failure(() => parseOr400(PatchRunRequestSchema, body))).toEqual({
        status: 400,
        message: 'body: expected an object',
        issues: [{ path: '(body)', message: 'expected an object' }],
      });
    }
  });

  it('takes no body as an empty object', () => {
    expect(parseOr400(PatchRunRequestSchema, undefined)).toEqual({});
  });
});
