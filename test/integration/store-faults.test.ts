/**
 * Damaged stored data never stops the sidecar: each corruption of the data dir below → the real
 * `pnav sidecar` starts, names the file and what was lost (log and GET /api/v1/status
 * `storage.warnings`), keeps the damaged file aside, and serves every run it could read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  listRuns,
  openRun,
  request,
  type SidecarProcess,
  startSidecar,
  tmpDir,
} from '../faults/support/sidecar-process.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function started(dataDir: string): Promise<SidecarProcess> {
  const sc = await startSidecar({ dataDir });
  cleanup.push(() => sc.stop());
  return sc;
}

/** Two closed runs in the journal, stopped cleanly. */
async function seeded(): Promise<{ dataDir: string; ids: string[] }> {
  const dataDir = tmpDir('data');
  const sc = await startSidecar({ dataDir });
  const ids: string[] = [];
  for (const label of ['first', 'second']) {
    const run = await openRun(sc, { label });
    await request(sc, 'POST', `/api/v1/runs/${run.id}/close`, { body: { status: 'ok' } });
    ids.push(run.id);
  }
  expect(await sc.stop()).toBe(0);
  return { dataDir, ids };
}

async function storageWarnings(sc: SidecarProcess) {
  const status = await request(sc, 'GET', '/api/v1/status');
  expect(status.status).toBe(200);
  return status.json.storage.warnings as { file: string; message: string; movedTo: string | null }[];
}

describe('a damaged runs journal', () => {
  it('lines of valid JSON but the wrong shape (null, 42, [], {"seq":5}, a run without status): starts, names the file and each line, serves the other runs', async () => {
    const { dataDir, ids } = await seeded();
    const journal = path.join(dataDir, 'runs.journal');
    const bad = ['null', '42', '[]', '{"seq":5}', '{"seq":9,"id":"x","value":{"id":"x"}}'];
    const lines = fs.readFileSync(journal, 'utf8').split('\n');
    lines.splice(1, 0, ...bad);
    fs.writeFileSync(journal, lines.join('\n'));

    const sc = await started(dataDir);
    const warnings = await storageWarnings(sc);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.file).toBe(journal);
    expect(warnings[0]!.message).toContain(
      'skipped 5 damaged line(s): line 2 (null, not a record), line 3 (a number, not a record), line 4 (an array, not a record), line 5 (no id), line 6 (no valid status)',
    );
    expect(fs.readFileSync(warnings[0]!.movedTo!, 'utf8')).toContain(bad.join('\n'));
    expect(sc.output()).toContain(`${journal}: skipped 5 damaged line(s)`);
    expect((await listRuns(sc)).map(r => r.id).sort()).toEqual([...ids].sort());
    // Still writable, and the damage is not met again.
    await openRun(sc, { label: 'after the damage' });
    expect(await sc.stop()).toBe(0);
    const again = await started(dataDir);
    expect(await storageWarnings(again)).toEqual([]);
    expect(await listRuns(again)).toHaveLength(3);
  });
});

describe('a damaged runs snapshot', () => {
  it.each([
    ['cut short', (text: string) => text.slice(0, Math.floor(text.length / 2)), /cannot be read as JSON/],
    [
      'holding a run of the wrong shape',
      (text: string) => text.replace(/"status":"ok"/, '"status":7'),
      /skipped 1 record/,
      1,
    ],
  ])('%s: starts, names the file, keeps it aside, serves the rest', async (_what, damage, message) => {
    const { dataDir, ids } = await seeded();
    // As after a compaction: the first run in the snapshot, the second still in the journal.
    const snapshot = path.join(dataDir, 'runs.snapshot.json');
    const journal = path.join(dataDir, 'runs.journal');
    const entries = fs
      .readFileSync(journal, 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l));
    const first = entries.filter(e => e.id === ids[0]).at(-1);
    fs.writeFileSync(snapshot, damage(JSON.stringify({ seq: first.seq, records: { [first.id]: first.value } })));
    fs.writeFileSync(
      journal,
      `${entries
        .filter(e => e.seq > first.seq)
        .map(e => JSON.stringify(e))
        .join('\n')}\n`,
    );

    const sc = await started(dataDir);
    const warnings = await storageWarnings(sc);
    expect(warnings.map(w => w.file)).toEqual([snapshot]);
    expect(warnings[0]!.message).toMatch(message);
    expect(sc.output()).toContain(snapshot);
    expect(fs.existsSync(warnings[0]!.movedTo!)).toBe(true);
    // The first run lived only in the snapshot: lost and said so; the journal's run is served.
    expect((await listRuns(sc)).map(r => r.id)).toEqual([ids[1]]);
  });

  it('a deleted snapshot with a journal that starts later is reported with how many records are lost', async () => {
    const dataDir = tmpDir('data');
    const snapshot = path.join(dataDir, 'runs.snapshot.json');
    const journal = path.join(dataDir, 'runs.journal');
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const run = (id: string) => ({
      id,
      kind: 'manual',
      status: 'ok',
      startedAt: '2026-01-01T00:00:00.000Z',
      energy: {},
      epochs: [],
      location: {},
    });
    // What a compaction leaves: the journal continues at record 41 after a snapshot of 40.
    fs.writeFileSync(journal, `${JSON.stringify({ seq: 41, id: 'late', value: run('late') })}\n`, { mode: 0o600 });
    const sc = await started(dataDir);
    expect(await storageWarnings(sc)).toEqual([
      {
        file: snapshot,
        message: `${snapshot} is missing but ${journal} starts at record 41: the 40 record(s) compacted into the snapshot before are lost`,
        movedTo: null,
      },
    ]);
  });
});
