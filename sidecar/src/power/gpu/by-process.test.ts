import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { ByProcessGpuScope, gpusForPids, queryComputeApps } from './by-process.js';

const UUIDS = ['GPU-11111111-aaaa', 'GPU-22222222-bbbb', 'GPU-33333333-cccc', 'GPU-44444444-dddd'];

let root: string;
let smi: string;
let appsFile: string;
let callsFile: string;

/** A fake nvidia-smi: the GPU list is fixed, compute apps come from a file the test rewrites. */
function fakeNvidiaSmi(): string {
  const script = path.join(root, 'nvidia-smi');
  fs.writeFileSync(
    script,
    `#!/bin/sh
echo "$*" >> '${callsFile}'
case "$1" in
  --query-compute-apps=*) cat '${appsFile}' ;;
  --query-gpu=index,uuid) ${UUIDS.map((u, i) => `echo "${i}, ${u}"`).join('; ')} ;;
  *) echo "unexpected arguments: $*" >&2; exit 64 ;;
esac
`,
    { mode: 0o755 },
  );
  return script;
}

function setApps(rows: [number, string][]): void {
  fs.writeFileSync(appsFile, rows.map(([pid, uuid]) => `${pid}, ${uuid}\n`).join(''));
}

/** A fake /proc: kernel 100 → 101 (a DataLoader worker) → 102; 200 is another user's process. */
function fakeProc(): string {
  const proc = path.join(root, 'proc');
  const tree: Record<number, { ppid: number; children: number[] }> = {
    100: { ppid: 1, children: [101] },
    101: { ppid: 100, children: [102] },
    102: { ppid: 101, children: [] },
    200: { ppid: 1, children: [] },
  };
  for (const [pid, { ppid, children }] of Object.entries(tree)) {
    fs.mkdirSync(path.join(proc, pid, 'task', pid), { recursive: true });
    fs.writeFileSync(path.join(proc, pid, 'stat'), `${pid} (python3) S ${ppid} 0 0 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0\n`);
    fs.writeFileSync(path.join(proc, pid, 'task', pid, 'children'), children.map(c => `${c} `).join(''));
  }
  return proc;
}

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-gpu-'));
  appsFile = path.join(root, 'apps.csv');
  callsFile = path.join(root, 'calls.log');
  fs.writeFileSync(appsFile, '');
  smi = fakeNvidiaSmi();
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('gpusForPids', () => {
  test('returns the indices of the GPUs running any of the pids, and only those', async () => {
    setApps([
      [100, UUIDS[2]!],
      [200, UUIDS[0]!],
      [102, UUIDS[1]!],
      [100, UUIDS[2]!],
    ]);
    expect(await gpusForPids(smi, [100, 102])).toEqual({ gpuIds: [1, 2], error: null });
    expect(await gpusForPids(smi, [200])).toEqual({ gpuIds: [0], error: null });
    expect(await gpusForPids(smi, [999])).toEqual({ gpuIds: [], error: null });
  });

  test('no compute processes at all: no GPU, and the index query is skipped', async () => {
    expect(await gpusForPids(smi, [100])).toEqual({ gpuIds: [], error: null });
    expect(fs.readFileSync(callsFile, 'utf8')).toBe(
      '--query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader\n',
    );
  });

  test('a missing or failing nvidia-smi is data, not an exception', async () => {
    const missing = path.join(root, 'nope');
    const r = await gpusForPids(missing, [1]);
    expect(r.gpuIds).toEqual([]);
    expect(r.error).toMatch(new RegExp(`^${missing} --query-compute-apps=pid,gpu_uuid,used_memory failed: `));
  });

  test('ignores lines that are not pid, uuid rows', async () => {
    fs.writeFileSync(appsFile, 'No running processes found\n[Not Supported], GPU-x\n 7 , GPU-11111111-aaaa \n');
    expect(await queryComputeApps(smi)).toEqual([{ pid: 7, gpuUuid: 'GPU-11111111-aaaa', usedMemoryMiB: null }]);
  });
});

describe('ByProcessGpuScope', () => {
  test("a run counts the GPUs its kernel's process tree used so far; other processes' GPUs never", async () => {
    const scope = new ByProcessGpuScope(smi, fakeProc());
    scope.track('run-a', 100);
    scope.track('run-b', 200);
    expect(scope.gpuIds('run-a')).toEqual([]);
    expect(scope.gpuIds('unknown')).toBeNull();

    setApps([[200, UUIDS[0]!]]);
    expect(await scope.refresh()).toEqual(['run-b']);
    expect(scope.gpuIds('run-a')).toEqual([]);

    // The kernel's grandchild starts on GPU 3, later the kernel itself on GPU 1.
    setApps([
      [102, UUIDS[3]!],
      [200, UUIDS[0]!],
    ]);
    expect(await scope.refresh()).toEqual(['run-a']);
    setApps([[100, UUIDS[1]!]]);
    expect(await scope.refresh()).toEqual(['run-a']);
    // The grandchild has finished: GPU 3 stays counted, it was used inside the window.
    expect(scope.gpuIds('run-a')).toEqual([1, 3]);
    expect(scope.gpuIds('run-b')).toEqual([0]);
    expect(await scope.refresh()).toEqual([]);

    scope.untrack('run-a');
    expect(scope.gpuIds('run-a')).toBeNull();
    expect(scope.size).toBe(1);
  });

  test('a failing driver query is remembered, not thrown', async () => {
    const scope = new ByProcessGpuScope(path.join(root, 'nope'), fakeProc());
    scope.track('r', 100);
    expect(await scope.refresh()).toEqual([]);
    expect(scope.lastError).toMatch(/--query-compute-apps=pid,gpu_uuid,used_memory failed/);
  });
});
