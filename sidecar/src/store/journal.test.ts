import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomicSync } from '../util/atomic-file.js';
import { Journal } from './journal.js';

let dir: string;
beforeEach(() => {
  dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-journal-')), 'data');
});
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe('Journal', () => {
  it('replays every put after a reopen, the last value of each id winning', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs' });
    j.open();
    await j.put('a', { n: 1 });
    await j.put('b', { n: 2 });
    await j.put('a', { n: 3 }, { durable: true });
    j.close();

    const again = new Journal<{ n: number }>({ dir, name: 'runs' });
    expect(Object.fromEntries(again.open())).toEqual({ a: { n: 3 }, b: { n: 2 } });
    again.close();
  });

  it('writes before returning, so a reader sees the line without any close or fsync (kill -9 safety)', () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs', syncIntervalMs: 60_000 });
    j.open();
    void j.put('a', { n: 1 });
    const text = fs.readFileSync(path.join(dir, 'runs.journal'), 'utf8');
    expect(JSON.parse(text.trim())).toEqual({ seq: 1, id: 'a', value: { n: 1 } });
    j.close();
  });

  it('creates the data dir 0700 and the journal and snapshot 0600', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs' });
    j.open();
    await j.put('a', { n: 1 });
    j.compact();
    j.close();
    expect(mode(dir)).toBe(0o700);
    expect(mode(path.join(dir, 'runs.journal'))).toBe(0o600);
    expect(mode(path.join(dir, 'runs.snapshot.json'))).toBe(0o600);
  });

  it('ignores a torn last line and keeps appending on a fresh line', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs' });
    j.open();
    await j.put('a', { n: 1 });
    j.close();
    fs.appendFileSync(path.join(dir, 'runs.journal'), '{"seq":2,"id":"b","value":{"n"');
    const logs: string[] = [];
    const again = new Journal<{ n: number }>({ dir, name: 'runs', log: m => logs.push(m) });
    expect(Object.fromEntries(again.open())).toEqual({ a: { n: 1 } });
    expect(logs).toEqual([`store: ignored 1 torn journal line(s) in ${path.join(dir, 'runs.journal')}`]);
    await again.put('c', { n: 4 });
    again.close();
    const third = new Journal<{ n: number }>({ dir, name: 'runs' });
    expect(Object.fromEntries(third.open())).toEqual({ a: { n: 1 }, c: { n: 4 } });
    third.close();
  });

  it('compacts into a snapshot when the journal outgrows compactBytes, losing nothing', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs', compactBytes: 2_000 });
    j.open();
    for (let i = 0; i < 200; i++) await j.put(`id${i % 10}`, { n: i });
    expect(j.sizeBytes).toBeLessThan(2_000);
    expect(fs.existsSync(path.join(dir, 'runs.snapshot.json'))).toBe(true);
    j.close();
    const again = new Journal<{ n: number }>({ dir, name: 'runs' });
    const records = again.open();
    expect(records.size).toBe(10);
    for (let k = 0; k < 10; k++) expect(records.get(`id${k}`)).toEqual({ n: 190 + k });
    again.close();
  });

  it('skips journal lines already folded into the snapshot (crash between snapshot and truncate)', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs' });
    j.open();
    await j.put('a', { n: 1 });
    await j.put('a', { n: 2 });
    j.close();
    const journal = fs.readFileSync(path.join(dir, 'runs.journal'), 'utf8');
    // Snapshot newer than the journal's lines, journal not yet truncated.
    writeFileAtomicSync(path.join(dir, 'runs.snapshot.json'), JSON.stringify({ seq: 5, records: { a: { n: 9 } } }));
    fs.writeFileSync(path.join(dir, 'runs.journal'), journal);
    const again = new Journal<{ n: number }>({ dir, name: 'runs' });
    expect(Object.fromEntries(again.open())).toEqual({ a: { n: 9 } });
    await again.put('a', { n: 10 });
    again.close();
    const third = new Journal<{ n: number }>({ dir, name: 'runs' });
    expect(Object.fromEntries(third.open())).toEqual({ a: { n: 10 } });
    third.close();
  });

  it('shares one fdatasync among concurrent durable puts (group commit)', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs' });
    j.open();
    const done = await Promise.all([1, 2, 3].map(n => j.put(`r${n}`, { n }, { durable: true }).then(() => n)));
    expect(done).toEqual([1, 2, 3]);
    j.close();
  });

  it('durable puts close together share one fdatasync, and each resolves only after it', async () => {
    const calls = vi.spyOn(fs, 'fdatasync');
    const j = new Journal<{ n: number }>({ dir, name: 'runs', syncIntervalMs: 60_000, durableSyncDelayMs: 30 });
    j.open();
    let resolved = 0;
    const puts = [1, 2, 3].map(n => j.put(`r${n}`, { n }, { durable: true }).then(() => resolved++));
    expect([calls.mock.calls.length, resolved]).toEqual([0, 0]);
    await Promise.all(puts);
    expect([calls.mock.calls.length, resolved]).toEqual([1, 3]);
    calls.mockRestore();
    j.close();
  });

  it('a durable put brings the pending group commit forward', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs', syncIntervalMs: 600_000, durableSyncDelayMs: 5 });
    j.open();
    void j.put('a', { n: 1 }); // its sync is due in 10 minutes
    await j.put('b', { n: 2 }, { durable: true }); // would time the test out if it waited for that
    expect(j.get('b')).toEqual({ n: 2 });
    j.close();
  });

  it('close() syncs and releases durable puts still waiting', async () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs', durableSyncDelayMs: 600_000 });
    j.open();
    const put = j.put('a', { n: 1 }, { durable: true });
    j.close();
    await put;
    const again = new Journal<{ n: number }>({ dir, name: 'runs' });
    expect(Object.fromEntries(again.open())).toEqual({ a: { n: 1 } });
    again.close();
  });

  it('refuses puts before open', () => {
    const j = new Journal<{ n: number }>({ dir, name: 'runs' });
    expect(() => j.put('a', { n: 1 })).toThrow(/^journal is not open$/);
  });
});

describe('Journal on a full disk (a real 64 KiB tmpfs)', () => {
  /** Mounts a tmpfs at `dir` (needs root / CAP_SYS_ADMIN); returns why not when it cannot. */
  function mountTmpfs(at: string): string | null {
    fs.mkdirSync(at, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', at], { stdio: 'pipe' });
      return null;
    } catch (err) {
      return `cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]}); needs root`;
    }
  }

  /** Writes a filler file until the filesystem is full. */
  function fill(at: string): string {
    const filler = path.join(at, 'filler');
    const fd = fs.openSync(filler, 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(1024, 1));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      fs.closeSync(fd);
    }
    return filler;
  }

  it('a write cut short by ENOSPC is refused and cut off: the next acknowledged record survives replay', async ctx => {
    const mountPoint = path.join(path.dirname(dir), 'tmpfs');
    const why = mountTmpfs(mountPoint);
    if (why) {
      console.warn(`SKIPPED (not passed): ${why}: the ENOSPC case is not exercised`);
      ctx.skip(why);
      return;
    }
    try {
      const journalDir = path.join(mountPoint, 'data');
      const j = new Journal<{ s: string }>({ dir: journalDir, name: 'runs' });
      j.open();
      await j.put('a', { s: 'small' });
      const sizeBefore = fs.statSync(path.join(journalDir, 'runs.journal')).size;
      const filler = fill(mountPoint);
      // Larger than a page: the room left in the journal's last page takes part of it, then ENOSPC.
      expect(() => j.put('big', { s: 'x'.repeat(6000) })).toThrow(/ENOSPC/);
      expect(j.get('big')).toBeUndefined();
      expect(fs.statSync(path.join(journalDir, 'runs.journal')).size).toBe(sizeBefore);
      fs.rmSync(filler);
      await j.put('b', { s: 'after space came back' });
      j.close();

      const again = new Journal<{ s: string }>({ dir: journalDir, name: 'runs' });
      expect(Object.fromEntries(again.open())).toEqual({ a: { s: 'small' }, b: { s: 'after space came back' } });
      again.close();
      // The refused record used no sequence number: 'b' follows 'a' directly.
      const seqs = fs
        .readFileSync(path.join(journalDir, 'runs.journal'), 'utf8')
        .trim()
        .split('\n')
        .map(l => (JSON.parse(l) as { seq: number }).seq);
      expect(seqs).toEqual([1, 2]);
    } finally {
      execFileSync('umount', ['-l', mountPoint]);
    }
  });
});
