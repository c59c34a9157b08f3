import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HARDWARE, makeRun } from '../../../test-support/make-run.js';
import { DiskWriteError } from '../../util/atomic-file.js';
import { PNAV_HEADER } from './columns.js';
import { CsvOutputError, EPOCH_COLUMNS, writeRunCsv } from './csv-file.js';
import { indexPathFor } from './csv-table.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pnav-csv-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');
/** The index's readable lines (it may hold empty ones: each append starts with a newline). */
const indexEntries = (csvFile: string) =>
  readFileSync(indexPathFor(csvFile), 'utf8')
    .split('\n')
    .filter(line => line !== '')
    .map(line => JSON.parse(line) as { key: string; op: string; rows: string[] });

describe('emissions_<type_process>.csv', () => {
  it('writes the exact 40-column header and a pandas-formatted row (case 1)', async () => {
    const run = makeRun({ nFeatures: [28, 28], nBatch: 0, nEpoch: 0, pue: 1 });
    const { path: file } = await writeRunCsv(run, HARDWARE, { dir, onCsvWrite: 'append' });
    const [header, row] = lines(file);
    expect(header).toBe(PNAV_HEADER);
    expect(header.split(',')).toHaveLength(40);
    const local = new Date(run.endedAt!);
    const two = (n: number) => String(n).padStart(2, '0');
    const stamp = `${local.getFullYear()}-${two(local.getMonth() + 1)}-${two(local.getDate())}T${two(local.getHours())}:${two(local.getMinutes())}:${two(local.getSeconds())}`;
    // Emission figures as CPython prints (3960 / 3600000) * 174.05 / 1000 and that / 120.
    expect(row).toBe(
      `${stamp},training,,0.605,120.0,0.00019145500000000002,1.5954583333333335e-06,0,0,30.0,0.0,3.0,0.001,0,0.0001,0.0011,0,0,0,0,0,0,small,0,"(28, 28)",Spain,ESP,,,,Linux-6.8.0-x86_64-with-glibc2.39,3.11.7,8,Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz,,,31.2,DDR4,N,1.0`,
    );
  });

  it('names files emissions_training.csv / emissions_inference.csv by default (case 2)', async () => {
    const training = await writeRunCsv(makeRun({ typeProcess: 'training' }), HARDWARE, { dir, onCsvWrite: 'append' });
    const inference = await writeRunCsv(makeRun({ id: 'run-2', typeProcess: 'inference' }), HARDWARE, {
      dir,
      onCsvWrite: 'append',
    });
    expect(training.path).toBe(path.join(dir, 'emissions_training.csv'));
    expect(inference.path).toBe(path.join(dir, 'emissions_inference.csv'));
    expect(training.epochsPath).toBeNull();
  });

  it('appends: two runs give 1 header + 2 rows, older bytes untouched (case 3)', async () => {
    const { path: file } = await writeRunCsv(makeRun({ id: 'a' }), HARDWARE, { dir, onCsvWrite: 'append' });
    const before = readFileSync(file, 'utf8');
    await writeRunCsv(makeRun({ id: 'b', nBatch: 3 }), HARDWARE, { dir, onCsvWrite: 'append' });
    const after = readFileSync(file, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(lines(file)).toHaveLength(3);
  });

  it('keeps a file with another header as .csv.bak, then .csv_0.bak, and starts a new one (case 4)', async () => {
    const file = path.join(dir, 'emissions_training.csv');
    writeFileSync(file, 'timestamp,emissions\n2025-01-01T00:00:00,0.1\n');
    const first = await writeRunCsv(makeRun(), HARDWARE, { dir, onCsvWrite: 'append' });
    expect(first.backupPath).toBe(`${file}.bak`);
    expect(readFileSync(`${file}.bak`, 'utf8')).toBe('timestamp,emissions\n2025-01-01T00:00:00,0.1\n');
    expect(lines(file)).toHaveLength(2);
    writeFileSync(file, 'other,header\n1,2\n');
    const second = await writeRunCsv(makeRun(), HARDWARE, { dir, onCsvWrite: 'append' });
    expect(second.backupPath).toBe(`${file}_0.bak`);
    expect(readFileSync(`${file}_0.bak`, 'utf8')).toBe('other,header\n1,2\n');
    expect(lines(file)[0]).toBe(PNAV_HEADER);
  });

  it('backs up a header-only file instead of losing the write (calculadorapnav overwrites such a file)', async () => {
    const file = path.join(dir, 'emissions_training.csv');
    writeFileSync(file, `${PNAV_HEADER}\n`);
    const result = await writeRunCsv(makeRun(), HARDWARE, { dir, onCsvWrite: 'append' });
    expect(result.backupPath).toBe(`${file}.bak`);
    expect(lines(file)).toHaveLength(2);
  });

  it('update replaces the row of the same run in place, and appends a run it has not written', async () => {
    const out = { dir, onCsvWrite: 'update' as const };
    await writeRunCsv(makeRun({ id: 'a', durationS: 10 }), HARDWARE, out);
    await writeRunCsv(makeRun({ id: 'b', durationS: 20 }), HARDWARE, out);
    const { path: file } = await writeRunCsv(makeRun({ id: 'a', durationS: 11 }), HARDWARE, out);
    const rows = lines(file).slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0].split(',')[4]).toBe('11.0'); // run a, updated where it was
    expect(rows[1].split(',')[4]).toBe('20.0');
    await writeRunCsv(makeRun({ id: 'c', durationS: 30 }), HARDWARE, out);
    expect(lines(file)).toHaveLength(4);
    expect(existsSync(indexPathFor(file))).toBe(true);
  });

  it('update also finds rows written in append mode, and appends if the row was edited away', async () => {
    const { path: file } = await writeRunCsv(makeRun({ id: 'a', durationS: 10 }), HARDWARE, {
      dir,
      onCsvWrite: 'append',
    });
    await writeRunCsv(makeRun({ id: 'a', durationS: 12 }), HARDWARE, { dir, onCsvWrite: 'update' });
    expect(lines(file)).toHaveLength(2);
    writeFileSync(file, `${lines(file)[0]}\n${lines(file)[1].replace('12.0', '99.0')}\n`);
    await writeRunCsv(makeRun({ id: 'a', durationS: 13 }), HARDWARE, { dir, onCsvWrite: 'update' });
    expect(lines(file)).toHaveLength(3);
  });

  it('append is one O_APPEND write: same inode, older bytes untouched, index appended, no temp file', async () => {
    const out = { dir, onCsvWrite: 'append' as const };
    const epochs: [number, number][] = [[10, 1000]];
    const first = await writeRunCsv(makeRun({ id: 'a', epochs }), HARDWARE, out);
    const before = { csv: readFileSync(first.path), epochs: readFileSync(first.epochsPath!) };
    const inodes = [first.path, first.epochsPath!, indexPathFor(first.path)].map(file => statSync(file).ino);
    const second = await writeRunCsv(makeRun({ id: 'b', epochs }), HARDWARE, out);
    // A rename-based rewrite would give every file a new inode.
    expect([second.path, second.epochsPath!, indexPathFor(second.path)].map(file => statSync(file).ino)).toEqual(
      inodes,
    );
    const after = { csv: readFileSync(second.path), epochs: readFileSync(second.epochsPath!) };
    expect(after.csv.subarray(0, before.csv.length).equals(before.csv)).toBe(true);
    expect(after.epochs.subarray(0, before.epochs.length).equals(before.epochs)).toBe(true);
    expect(lines(second.path)).toHaveLength(3);
    expect(lines(second.epochsPath!).map(line => line.split(',')[0])).toEqual(['run_id', 'a', 'b']);
    expect(readdirSync(dir).filter(name => name.endsWith('.tmp'))).toEqual([]);
    expect(indexEntries(second.path).map(entry => [entry.key, entry.op])).toEqual([
      ['a', 'set'],
      ['b', 'add'],
    ]);
  });

  it('repairs a torn last row (power cut mid-append): the fragment is dropped, older rows kept', async () => {
    const out = { dir, onCsvWrite: 'append' as const };
    const { path: file } = await writeRunCsv(makeRun({ id: 'a', durationS: 10 }), HARDWARE, out);
    await writeRunCsv(makeRun({ id: 'b', durationS: 20 }), HARDWARE, out);
    const [header, rowA] = lines(file);
    truncateSync(file, readFileSync(file).length - 60); // row b cut part-way, no final newline
    const inode = statSync(file).ino;
    await writeRunCsv(makeRun({ id: 'c', durationS: 30 }), HARDWARE, out);
    expect(statSync(file).ino).not.toBe(inode); // repaired through the atomic rewrite
    const repaired = lines(file);
    expect(repaired.slice(0, 2)).toEqual([header, rowA]);
    expect(repaired).toHaveLength(3);
    expect(repaired[2].split(',')[4]).toBe('30.0');
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
  });

  it('repairs a NUL-filled tail (file size grown, data lost) and keeps a complete row saved without a newline', async () => {
    const out = { dir, onCsvWrite: 'append' as const };
    const { path: file } = await writeRunCsv(makeRun({ id: 'a', durationS: 10 }), HARDWARE, out);
    appendFileSync(file, Buffer.alloc(300));
    await writeRunCsv(makeRun({ id: 'b', durationS: 20 }), HARDWARE, out);
    expect(lines(file).map(line => line.split(',')[4])).toEqual(['duration', '10.0', '20.0']);
    expect(readFileSync(file, 'utf8')).not.toContain('\0');
    writeFileSync(file, readFileSync(file, 'utf8').trimEnd()); // an editor that drops the final newline
    await writeRunCsv(makeRun({ id: 'c', durationS: 30 }), HARDWARE, out);
    expect(lines(file).map(line => line.split(',')[4])).toEqual(['duration', '10.0', '20.0', '30.0']);
  });

  it('update replaces every row appended for the run, found through the append-only index', async () => {
    const append = { dir, onCsvWrite: 'append' as const };
    const { path: file } = await writeRunCsv(makeRun({ id: 'a', durationS: 10 }), HARDWARE, append);
    await writeRunCsv(makeRun({ id: 'b', durationS: 20 }), HARDWARE, append);
    await writeRunCsv(makeRun({ id: 'a', durationS: 11 }), HARDWARE, append); // a second row for run a
    appendFileSync(indexPathFor(file), '\n{"key":"b","op":"add","rows":["ab'); // a torn index append
    await writeRunCsv(makeRun({ id: 'c', durationS: 30 }), HARDWARE, append);
    expect(lines(file)).toHaveLength(5);
    await writeRunCsv(makeRun({ id: 'a', durationS: 12 }), HARDWARE, { dir, onCsvWrite: 'update' });
    expect(lines(file).map(line => line.split(',')[4])).toEqual(['duration', '12.0', '20.0', '30.0']);
    await writeRunCsv(makeRun({ id: 'c', durationS: 31 }), HARDWARE, { dir, onCsvWrite: 'update' });
    expect(lines(file).map(line => line.split(',')[4])).toEqual(['duration', '12.0', '20.0', '31.0']);
    // The rewrite compacted the index to one line per run.
    expect(indexEntries(file).map(entry => [entry.key, entry.op])).toEqual([
      ['a', 'set'],
      ['b', 'set'],
      ['c', 'set'],
    ]);
  });

  it('writes one row per measured epoch in emissions_training_epochs.csv', async () => {
    const run = makeRun({
      epochs: [
        [10, 1000],
        [20, 2000],
      ],
      pue: 1.5,
    });
    const result = await writeRunCsv(run, HARDWARE, { dir, onCsvWrite: 'append' });
    expect(result.epochsPath).toBe(path.join(dir, 'emissions_training_epochs.csv'));
    const [header, first, second] = lines(result.epochsPath!);
    expect(header).toBe(EPOCH_COLUMNS.join(','));
    const cells = first.split(',');
    expect(cells[0]).toBe('run-0001');
    expect(cells[1]).toBe('0');
    expect(cells[3]).toBe('10.0');
    expect(Number(cells[4])).toBeCloseTo((1000 * 1.5) / 3_600_000, 15);
    expect(Number(cells[7])).toBeCloseTo((1000 * 1.5) / 3_600_000, 15);
    expect(second.split(',')[1]).toBe('1');
    await writeRunCsv(run, HARDWARE, { dir, onCsvWrite: 'update' });
    expect(lines(result.epochsPath!)).toHaveLength(3);
  });

  it('serialises concurrent writers: 20 parallel appends give 20 rows', async () => {
    const out = { dir, onCsvWrite: 'append' as const };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => writeRunCsv(makeRun({ id: `r${i}` }), HARDWARE, out)),
    );
    expect(lines(results[0].path)).toHaveLength(21);
    expect(readdirSync(dir).filter(name => name.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects a missing directory and a file name with a path', async () => {
    await expect(
      writeRunCsv(makeRun(), HARDWARE, { dir: path.join(dir, 'nope'), onCsvWrite: 'append' }),
    ).rejects.toThrow(new CsvOutputError(`output directory '${path.join(dir, 'nope')}' does not exist`));
    await expect(writeRunCsv(makeRun(), HARDWARE, { dir, file: '../x.csv', onCsvWrite: 'append' })).rejects.toThrow(
      "output file '../x.csv' must be a file name, not a path",
    );
  });
});

describe('disk failures while writing the CSV leave the previous file intact', () => {
  const isRoot = process.getuid?.() === 0;

  /** A real tmpfs of 64 KiB (needs root / CAP_SYS_ADMIN). */
  function mountTmpfs(): string | null {
    const mountPoint = path.join(dir, 'tmpfs');
    execFileSync('mkdir', ['-p', mountPoint]);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], { stdio: 'pipe' });
      return mountPoint;
    } catch {
      return null;
    }
  }
  const unmount = (mountPoint: string) => execFileSync('umount', [mountPoint]);

  it('full file system (real 64 KiB tmpfs filled up: ENOSPC) during an append cut back to its length', async ctx => {
    const mountPoint = mountTmpfs();
    if (!mountPoint) {
      ctx.skip('cannot mount a tmpfs here (needs root): the ENOSPC case is not exercised');
      return;
    }
    try {
      const out = { dir: mountPoint, onCsvWrite: 'append' as const };
      const first = await writeRunCsv(makeRun({ id: 'a' }), HARDWARE, out);
      const rowBytes = Buffer.byteLength(`${lines(first.path)[1]}\n`);
      // Grow the file until the next row must cross into a page the full tmpfs cannot give:
      // its write then lands part-way (short write) before ENOSPC, and must be cut back.
      const room = () => 4096 - (statSync(first.path).size % 4096);
      for (let i = 0; room() >= rowBytes || room() === 4096; i++) {
        await writeRunCsv(makeRun({ id: `fill-${i}` }), HARDWARE, out);
      }
      const before = readFileSync(first.path);
      const inode = statSync(first.path).ino;
      try {
        writeFileSync(path.join(mountPoint, 'filler'), Buffer.alloc(1024 * 1024));
      } catch (error) {
        expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      const failure = writeRunCsv(makeRun({ id: 'b' }), HARDWARE, out);
      await expect(failure).rejects.toThrow(
        `could not write ${first.path}: no space left on the device; the previous file is unchanged`,
      );
      await expect(failure).rejects.toBeInstanceOf(DiskWriteError);
      expect(readFileSync(first.path).equals(before)).toBe(true);
      expect(statSync(first.path).ino).toBe(inode);
      // The whole-file path (update mode) fails the same way, leaving the file as it was.
      await expect(writeRunCsv(makeRun({ id: 'a' }), HARDWARE, { ...out, onCsvWrite: 'update' })).rejects.toThrow(
        `could not write ${first.path}: no space left on the device; the previous file is unchanged`,
      );
      expect(readFileSync(first.path).equals(before)).toBe(true);
      expect(readdirSync(mountPoint).filter(name => name.endsWith('.tmp'))).toEqual([]);
    } finally {
      unmount(mountPoint);
    }
  });

  it('read-only file system (real tmpfs remounted read-only: EROFS)', async ctx => {
    const mountPoint = mountTmpfs();
    if (!mountPoint) {
      ctx.skip('cannot mount a tmpfs here (needs root): the EROFS case is not exercised');
      return;
    }
    try {
      const first = await writeRunCsv(makeRun({ id: 'a' }), HARDWARE, { dir: mountPoint, onCsvWrite: 'append' });
      const before = readFileSync(first.path, 'utf8');
      execFileSync('mount', ['-o', 'remount,ro', mountPoint]);
      await expect(
        writeRunCsv(makeRun({ id: 'b' }), HARDWARE, { dir: mountPoint, onCsvWrite: 'append' }),
      ).rejects.toThrow(`could not write ${first.path}: the file system is read-only; the previous file is unchanged`);
      expect(readFileSync(first.path, 'utf8')).toBe(before);
    } finally {
      unmount(mountPoint);
    }
  });

  it('read-only file in a directory without write permission (chmod 444/555: EACCES, not as root)', async ctx => {
    if (isRoot) {
      ctx.skip('running as root, which ignores directory permissions: the EACCES case is not exercised');
      return;
    }
    const first = await writeRunCsv(makeRun({ id: 'a' }), HARDWARE, { dir, onCsvWrite: 'append' });
    const before = readFileSync(first.path, 'utf8');
    chmodSync(first.path, 0o444); // else the append path would still write the file in place
    chmodSync(dir, 0o555);
    try {
      await expect(writeRunCsv(makeRun({ id: 'b' }), HARDWARE, { dir, onCsvWrite: 'append' })).rejects.toThrow(
        `could not write ${first.path}: permission denied; the previous file is unchanged`,
      );
      expect(readFileSync(first.path, 'utf8')).toBe(before);
    } finally {
      chmodSync(dir, 0o755);
    }
  });
});
