/** A kernel's memory is read from /proc at most once per MEMORY_MAX_AGE_MS (smaps_rollup is costly to read). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MEMORY_MAX_AGE_MS, ProcReader } from './process-shares.js';

const roots: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const root of roots.splice(0)) fs.rmSync(root, { recursive: true, force: true });
});

function fakeProc(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-proc-'));
  roots.push(root);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
  return root;
}

describe('ProcReader.residentBytes', () => {
  it('keeps a process’s PSS for MEMORY_MAX_AGE_MS, then reads it again', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const root = fakeProc({ '42/smaps_rollup': 'Rss: 900 kB\nPss: 800 kB\n' });
    const proc = new ProcReader(root);
    expect(proc.residentBytes([42])).toEqual({ bytes: 800 * 1024, kind: 'PSS' });
    fs.writeFileSync(path.join(root, '42/smaps_rollup'), 'Pss: 1600 kB\n');
    vi.advanceTimersByTime(MEMORY_MAX_AGE_MS - 1);
    expect(proc.residentBytes([42])).toEqual({ bytes: 800 * 1024, kind: 'PSS' });
    vi.advanceTimersByTime(2);
    expect(proc.residentBytes([42])).toEqual({ bytes: 1600 * 1024, kind: 'PSS' });
  });

  it('falls back to VmRSS, and forgets a process that is gone', () => {
    const root = fakeProc({ '7/status': 'Name:\tpython\nVmRSS:\t  300 kB\n' });
    const proc = new ProcReader(root);
    expect(proc.residentBytes([7, 8])).toEqual({ bytes: 300 * 1024, kind: 'RSS' });
    expect(proc.residentBytes([8])).toBeNull();
  });
});
