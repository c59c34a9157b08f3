#!/usr/bin/env node
/**
 * `npm test`: installs what is missing, then runs every suite of the repository and ends with
 * one line `N passed, N failed` totalling them all. A suite that crashes before reporting counts
 * as one failure; skipped tests are listed per suite but are neither passed nor failed.
 *
 *   npm test                  every suite
 *   npm test -- --only python run the suites whose name contains "python"
 *   npm run test:faults       the slow fault-injection suite as well
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrap, ROOT, VENV_BIN, VENV_PYTHON } from './bootstrap.mjs';

const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const withFaults = args.includes('--faults');
const REPORTS = join(ROOT, 'test', 'artifacts', 'reports');

const env = {
  ...process.env,
  PATH: `${VENV_BIN}:${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH}`,
  PNAV_REPO_ROOT: ROOT,
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1',
};

function exec(cmd, cmdArgs, cwd) {
  process.stdout.write(`\n=== ${cmd} ${cmdArgs.join(' ')}  (in ${cwd.replace(ROOT, '.') || '.'})\n`);
  const r = spawnSync(cmd, cmdArgs, { cwd, stdio: 'inherit', env });
  return r.status ?? 1;
}

/** A single pass/fail check (lint, typecheck). */
function check(cmd, cmdArgs, cwd = ROOT) {
  const code = exec(cmd, cmdArgs, cwd);
  return { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 };
}

/** Vitest with its JSON reporter; counts come from the report, not from the exit code. */
function vitest(dir, extra = []) {
  const out = join(REPORTS, `vitest-${dir.replaceAll('/', '-')}.json`);
  rmSync(out, { force: true });
  const code = exec(
    join(ROOT, 'node_modules', '.bin', 'vitest'),
    ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...extra],
    join(ROOT, dir),
  );
  if (!existsSync(out)) return { passed: 0, failed: 1, skipped: 0, note: `no report (exit ${code})` };
  const r = JSON.parse(readFileSync(out, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A file that fails to load, or whose beforeAll/afterAll throws, is a failed suite whose tests are not
  // failed (none, or all skipped): count it, or a crashed suite would read as green.
  const brokenFiles = (r.testResults ?? []).filter(
    f => f.status === 'failed' && !(f.assertionResults ?? []).some(a => a.status === 'failed'),
  ).length;
  return { passed: r.numPassedTests, failed: r.numFailedTests + brokenFiles, skipped };
}

/** pytest with a JUnit XML report. */
function pytest(dir, extra = []) {
  const out = join(REPORTS, `pytest-${dir.replaceAll('/', '-')}.xml`);
  rmSync(out, { force: true });
  const code = exec(VENV_PYTHON, ['-m', 'pytest', '-q', '-rs', `--junitxml=${out}`, ...extra, dir], ROOT);
  if (!existsSync(out)) return { passed: 0, failed: 1, skipped: 0, note: `no report (exit ${code})` };
  const xml = readFileSync(out, 'utf8');
  const attr = name =>
    [...xml.matchAll(new RegExp(`<testsuite [^>]*${name}="(\\d+)"`, 'g'))].reduce((a, m) => a + Number(m[1]), 0);
  const tests = attr('tests');
  const failed = attr('failures') + attr('errors');
  const skipped = attr('skipped');
  return { passed: tests - failed - skipped, failed, skipped };
}

const suites = [
  { name: 'lint (biome)', run: () => check(join(ROOT, 'node_modules', '.bin', 'biome'), ['check', '.']) },
  {
    // Biome has no Python support: ruff is the Python side's formatter and linter (config in python-shim/pyproject.toml).
    name: 'lint python (ruff)',
    run: () => {
      const ruff = join(VENV_BIN, 'ruff');
      const cfg = ['--config', 'python-shim/pyproject.toml'];
      const a = check(ruff, ['check', ...cfg, 'python-shim', 'test']);
      const b = check(ruff, ['format', '--check', ...cfg, 'python-shim', 'test']);
      return { passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: 0 };
    },
  },
  {
    name: 'typecheck sidecar',
    run: () => check(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'sidecar/tsconfig.json', '--noEmit']),
  },
  {
    name: 'typecheck labextension',
    when: () => existsSync(join(ROOT, 'labextension', 'tsconfig.json')),
    run: () => check(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'labextension/tsconfig.json', '--noEmit']),
  },
  { name: 'sidecar unit+integration (vitest)', run: () => vitest('sidecar') },
  {
    name: 'labextension unit (vitest)',
    when: () => existsSync(join(ROOT, 'labextension', 'src')),
    run: () => vitest('labextension'),
  },
  { name: 'python-shim (pytest)', run: () => pytest('python-shim/tests') },
  // The READMEs' examples and the example notebooks, executed as printed in real kernels.
  { name: 'docs as tests (pytest)', run: () => pytest('test/docs') },
  { name: 'cross-component + e2e (vitest)', run: () => vitest('test') },
  {
    // npm run dist, then the wheel installed in fresh venvs (Python 3.9, 3.11, 3.13) without Node on PATH.
    name: 'installed wheel (vitest)',
    run: () => vitest('test', ['--config', 'wheel/vitest.config.ts']),
  },
  {
    // Attacks by another local user: creates two OS users (useradd), so it needs root; skipped, saying so, otherwise.
    name: 'multi-user (vitest, two OS users)',
    when: () => existsSync(join(ROOT, 'test', 'multi-user')),
    run: () => vitest('test', ['--config', 'multi-user/vitest.config.ts']),
  },
  {
    name: 'faults (slow)',
    when: () => withFaults && existsSync(join(ROOT, 'test', 'faults')),
    run: () => vitest('test', ['--config', 'faults/vitest.config.ts']),
  },
];

function main() {
  mkdirSync(REPORTS, { recursive: true });
  try {
    bootstrap();
  } catch (err) {
    process.stdout.write(`\nbootstrap failed: ${err.message}\n0 passed, 1 failed\n`);
    process.exit(1);
  }
  const results = [];
  for (const s of suites) {
    if (only && !s.name.includes(only)) continue;
    if (s.when && !s.when()) continue;
    let r;
    try {
      r = s.run();
    } catch (err) {
      r = { passed: 0, failed: 1, skipped: 0, note: err.message };
    }
    results.push({ name: s.name, ...r });
  }
  process.stdout.write('\n=== summary\n');
  for (const r of results) {
    const note = r.note ? `  (${r.note})` : '';
    process.stdout.write(`${r.name.padEnd(36)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${note}\n`);
  }
  const passed = results.reduce((a, r) => a + r.passed, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
