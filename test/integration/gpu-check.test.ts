/**
 * test/gpu/check.sh cannot measure anything without an NVIDIA GPU; its plumbing can be checked here:
 * the script parses, and its --dry mode runs end to end against the tests' fake libnvidia-ml and fake
 * nvidia-smi (a real sidecar, the real check.py and smi-window.mjs), writing the JSON and the table.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'test', 'gpu', 'check.sh');
const out = mkdtempSync(join(tmpdir(), 'pnav-gpu-check-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const hasCc = spawnSync('cc', ['--version']).status === 0;
if (!hasCc) console.warn('gpu-check.test.ts: SKIPPING the dry run: no C compiler to build the fake libnvidia-ml');

describe('test/gpu/check.sh', () => {
  it('parses (bash -n), and passes shellcheck where it is installed', () => {
    expect(spawnSync('bash', ['-n', SCRIPT]).status).toBe(0);
    const shellcheck = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    if (shellcheck.error) console.warn('gpu-check.test.ts: shellcheck not installed, only bash -n checked');
    else expect(shellcheck.stdout).toBe('');
  });

  it('refuses an unknown option with exit 2', () => {
    const run = spawnSync('bash', [SCRIPT, '--bogus'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('check.sh: unknown option --bogus (see --help)\n');
  });

  it.skipIf(!hasCc)('--dry runs every step against the fake GPU and writes the JSON and the table', () => {
    const env = { ...process.env, PYTHON: '' };
    const run = spawnSync('bash', [SCRIPT, '--dry', '--out', out], { encoding: 'utf8', env, timeout: 170_000 });
    // 0 or 1: whether the fake counter's 20 ms steps let windows agree within 1 % is not the point here.
    expect([0, 1], run.stderr).toContain(run.status);
    const report = JSON.parse(readFileSync(join(out, 'gpu-check.json'), 'utf8'));
    expect(report.dry).toBe(true);
    // The sidecar read the (fake) NVML counter: windows of 1 s and more agree with the direct reads
    // within a few counter steps (the fake counter moves every 20 ms, 8 J at 400 W).
    for (const w of report.windows) expect(w.method).toBe('nvml');
    for (const w of report.windows.filter((x: { windowS: number }) => x.windowS >= 1))
      expect(Math.abs(w.ratio - 1)).toBeLessThanOrEqual(0.05);
    expect(report.windows.map((w: { quality: string }) => w.quality)).toEqual(['coarse', 'coarse', 'fine', 'fine']);
    // Waiting for the queued "work" puts its energy in its own cell, not the next.
    expect(report.queuedWork.withSync.cellJ).toBeGreaterThan(report.queuedWork.withoutSync.cellJ);
    expect(report.queuedWork.withSync.nextCellJ).toBeLessThan(report.queuedWork.withoutSync.nextCellJ);
    expect(report.visibleDevices.map((v: { gpuIds: number[] }) => v.gpuIds)).toEqual([[0], [0], [0]]);
    expect(report.nvidiaSmiFallback.windows).toHaveLength(4);
    expect(report.nvidiaSmiFallback.lineGaps.lines).toBeGreaterThan(10);
    const table = readFileSync(join(out, 'gpu-check.md'), 'utf8');
    expect(table).toMatch(/^GPU check .* \(DRY RUN: fake GPU, plumbing only\)/);
    expect(table).toContain('| queued ~2 s of matmuls | cell J | cell s | next cell J |');
    expect(table).toContain('nvidia-smi --query-compute-apps: median');
  });
});
