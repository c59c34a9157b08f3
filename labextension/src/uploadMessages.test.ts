import { describe, expect, it } from 'vitest';
import { makeRun } from '../test-support/fixtures';
import { plainTrans } from './trans';
import type { IUpload } from './types';
import { duplicateMessage, nameRuns, recordGroups, uploadProblem } from './uploadMessages';

const say = (m: { text: string; args: (string | number)[] } | null) => (m ? plainTrans.__(m.text, ...m.args) : null);

const upload = (overrides: Partial<IUpload>): IUpload => ({
  id: 'up-1',
  status: 'retrying',
  endpointUrl: 'http://127.0.0.1:9/api/v1/emissions',
  modelId: 'a'.repeat(64),
  typeProcess: 'training',
  notebookPath: 'demo.ipynb',
  runIds: ['r1'],
  idempotencyKey: 'up-1',
  attempts: 1,
  lastError: null,
  lastHttpStatus: null,
  nextAttemptAt: null,
  createdAt: '2026-03-02T10:00:00.000Z',
  updatedAt: '2026-03-02T10:00:00.000Z',
  sentAt: null,
  ...overrides,
});

describe('recordGroups', () => {
  it('makes one record per process type, runs named by cell number and label', () => {
    const runs = [
      makeRun('a', { typeProcess: 'inference', executionCount: 7, label: 'predict' }),
      makeRun('b', { executionCount: 3, label: 'model.fit' }),
      makeRun('c', { executionCount: 4, label: 'more epochs' }),
    ];
    const groups = recordGroups(runs, run => run.label ?? run.id);
    expect(groups.map(g => [g.typeProcess, g.runNames])).toEqual([
      ['training', '[3] model.fit, [4] more epochs'],
      ['inference', '[7] predict'],
    ]);
  });

  it('names runs instead of showing their ids in a server message', () => {
    const run = makeRun('8c1e2f4a-0000-4000-8000-000000000001', { executionCount: 2, label: 'train' });
    expect(nameRuns(`run(s) ${run.id} are not inference runs`, [run], r => r.label ?? '')).toBe(
      'run(s) [2] train are not inference runs',
    );
  });
});

describe('uploadProblem', () => {
  it('turns network errors and HTTP statuses into sentences naming the host', () => {
    expect(say(uploadProblem(upload({ lastError: 'connect ECONNREFUSED 127.0.0.1:9' })))).toBe(
      'Nothing answers at 127.0.0.1:9 (connection refused). Check the endpoint URL, or that the server is up.',
    );
    expect(say(uploadProblem(upload({ lastError: 'Unauthorized', lastHttpStatus: 401 })))).toBe(
      'The PNAV server at 127.0.0.1:9 refused the token (HTTP 401). Check the token and send again.',
    );
    expect(say(uploadProblem(upload({ lastError: 'model_id unknown', lastHttpStatus: 422 })))).toBe(
      'The PNAV server at 127.0.0.1:9 rejected the record (HTTP 422): model_id unknown',
    );
    expect(say(uploadProblem(upload({ lastError: 'getaddrinfo ENOTFOUND pnav.invalid' })))).toBe(
      'The host name in 127.0.0.1:9 could not be found. Check the endpoint URL.',
    );
    expect(uploadProblem(upload({}))).toBeNull();
  });
});

describe('duplicateMessage', () => {
  it('says when the same record was sent, with its status', () => {
    const sent = upload({ status: 'sent', sentAt: '2026-03-02T10:05:00.000Z' });
    const date = new Date(sent.sentAt as string).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
    expect(say(duplicateMessage(sent, 'en-GB'))).toBe(`This training record was already sent on ${date} (sent).`);
  });
});
