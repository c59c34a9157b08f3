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

describe('Journal with damaged data: starts, skips and names it, serves the rest', () => {
  const journalFile = () => path.join(dir, 'runs.journal');
  const snapshotFile = () => path.join(dir, 'runs.snapshot.json');
  const valid = (value: unknown) =>
    typeof value === 'object' && value !== null && typeof (value as { n?: unknown }).n === 'number'
      ? null
      : 'not a record';

  async function seed(compact = false): Promise<void> {
    const j = new Journal<{ n: number }>({ dir, name: 'runs' });
    j.open();
    await j.put('a', { n: 1 });
    await j.put('b', { n: 2 });
    if (compact) {
      j.compact();
      await j.put('c', { n: 3 });
    }
    j.close();
  }

  function reopen() {
    const logs: string[] = [];
    const j = new Journal<{ n: number }>({ dir, name: 'runs', validate: valid, log: m => logs.push(m) });
    const records = Object.fromEntries(j.open());
    return { j, records, logs, warnings: j.storageWarnings };
  }

  it.each([
    ['null', 'null'],
    ['42', 'a number'],
    ['[]', 'an array'],
    ['{"seq":5}', 'no id'],
    ['{"seq":6,"id":"x","value":null}', 'not a record'],
    ['{"seq":7,"id":"x","val', 'not JSON'],
  ])('a journal line %s in the middle is skipped and the file copied aside', async (line, why) => {
    await seed();
    const text = fs.readFileSync(journalFile(), 'utf8').split('\n');
    text.splice(1, 0, line);
    fs.writeFileSync(journalFile(), text.join('\n'));
    const { j, records, warnings, logs } = reopen();
    expect(records).toEqual({ a: { n: 1 }, b: { n: 2 } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.file).toBe(journalFile());
    expect(warnings[0]!.message).toMatch(/^skipped 1 damaged line\(s\): line 2 \(/);
    expect(warnings[0]!.message.split(';')[0]).toContain(why);
    expect(fs.readFileSync(warnings[0]!.movedTo!, 'utf8')).toContain(line);
    expect(warnings[0]!.movedTo!).toMatch(/runs\.journal\.damaged-\d{4}-\d\d-\d\dT/);
    expect(logs.some(m => m.includes(journalFile()) && m.includes('line 2'))).toBe(true);
    j.close();
    // Cleaned: the next start meets no damage and loses nothing.
    const again = reopen();
    expect([again.records, again.warnings]).toEqual([{ a: { n: 1 }, b: { n: 2 } }, []]);
    again.j.close();
  });

  it.each([
    ['not JSON', '{"seq": 2, "recor'],
    ['null', 'null'],
    ['an array', '[1, 2]'],
    ['no records', '{"seq": 2}'],
  ])('a snapshot that is %s is moved aside and the records are rebuilt from the journal', async (_name, content) => {
    await seed(true);
    fs.writeFileSync(snapshotFile(), content);
    const { j, records, warnings } = reopen();
    expect(records).toEqual({ c: { n: 3 } }); // a and b lived only in the snapshot
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.file).toBe(snapshotFile());
    expect(warnings[0]!.message).toMatch(/Records were rebuilt from .*runs\.journal alone/);
    expect(fs.readFileSync(warnings[0]!.movedTo!, 'utf8')).toBe(content);
    j.close();
    expect(reopen().warnings).toEqual([]);
  });

  it('a snapshot record of the wrong shape is skipped, the others kept', async () => {
    await seed(true);
    const snap = JSON.parse(fs.readFileSync(snapshotFile(), 'utf8'));
    snap.records.b = 'garbage';
    fs.writeFileSync(snapshotFile(), JSON.stringify(snap));
    const { j, records, warnings } = reopen();
    expect(records).toEqual({ a: { n: 1 }, c: { n: 3 } });
    expect(warnings.map(w => [w.file, w.message.split(';')[0]])).toEqual([
      [snapshotFile(), 'skipped 1 record(s) of the wrong shape: b (not a record)'],
    ]);
    j.close();
  });

  it('a missing snapshot with a journal that starts later is reported, not silent', async () => {
    await seed(true);
    fs.rmSync(snapshotFile());
    const { j, records, warnings } = reopen();
    expect(records).toEqual({ c: { n: 3 } });
    expect(warnings).toEqual([
      {
        file: snapshotFile(),
        message: `${snapshotFile()} is missing but ${journalFile()} starts at record 3: the 2 record(s) compacted into the snapshot before are lost`,
        movedTo: null,
      },
    ]);
    j.close();
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
