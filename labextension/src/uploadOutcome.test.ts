import { describe, expect, it } from 'vitest';
import { plainTrans } from './trans';
import type { IUpload } from './types';
import { outcomeNote } from './uploadOutcome';

const base = { id: 'up-1', lastError: null, fix: null } as unknown as IUpload;

describe('outcomeNote', () => {
  it('says delivered, rejected with the message and what to fix, or still pending', () => {
    expect(outcomeNote({ ...base, status: 'sent' }, plainTrans)).toEqual({
      kind: 'success',
      text: 'PNAV submission up-1 delivered.',
    });
    const rejected = { ...base, status: 'failed', lastError: 'HTTP 401: invalid token', fix: 'check the token' };
    expect(outcomeNote(rejected as IUpload, plainTrans)).toEqual({
      kind: 'error',
      text: 'PNAV submission up-1 rejected: HTTP 401: invalid token. To fix: check the token.',
    });
    const slow = { ...base, status: 'uncertain', lastError: 'no answer within 10 s (timeout)' };
    expect(outcomeNote(slow as IUpload, plainTrans)).toEqual({
      kind: 'warning',
      text: 'PNAV submission up-1 uncertain (no answer within 10 s (timeout)): sent again with the same key.',
    });
    expect(outcomeNote({ ...base, status: 'queued' } as IUpload, plainTrans).kind).toBe('info');
  });
});
