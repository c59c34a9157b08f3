#!/usr/bin/env node
/**
 * Installs and builds whatever is missing, so `npm start` and `npm test` work on a fresh clone
 * with only Node >= 20 and Python >= 3.9. Each step is skipped when its inputs have not changed
 * (a stamp with the hash of the inputs is kept in .venv/), so a second run takes about a second.
 *
 *   node test/tools/bootstrap.mjs            install + build everything
 *   node test/tools/bootstrap.mjs --quiet    same, printing only what it does
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VENV = join(ROOT, '.venv');
export const VENV_BIN = join(VENV, 'bin');
export const VENV_PYTHON = join(VENV_BIN, 'python');

function log(msg) {
  process.stdout.write(`[bootstrap] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  log(`$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1', ...opts.env },
  });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${r.status ?? r.signal}`);
  }
}

/** Hash of the given files and of every file under the given directories (sorted), for stamps. */
function hashInputs(paths) {
  const h = createHash('sha256');
  const visit = p => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) {
        if (['node_modules', 'lib', 'dist', '__pycache__', 'labextension', '.pytest_cache'].includes(name)) continue;
        visit(join(p, name));
      }
    } else {
      h.update(relative(ROOT, p));
      h.update(readFileSync(p));
    }
  };
  for (const p of paths) visit(join(ROOT, p));
  return h.digest('hex');
}

function stampOk(name, hash) {
  const f = join(VENV, `.pnav-stamp-${name}`);
  return existsSync(f) && readFileSync(f, 'utf8') === hash;
}

function writeStamp(name, hash) {
  mkdirSync(VENV, { recursive: true });
  writeFileSync(join(VENV, `.pnav-stamp-${name}`), hash);
}

/** Runs `step` unless the stamp for `inputs` is current. */
function step(name, inputs, fn) {
  const hash = hashInputs(inputs);
  if (stampOk(name, hash)) return;
  log(`${name}: inputs changed, running`);
  fn();
  writeStamp(name, hashInputs(inputs));
}

function checkNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) throw new Error(`Node >= 20 is required (this is ${process.versions.node})`);
}

function findPython() {
  const candidates = [process.env.PNAV_PYTHON, 'python3', 'python'].filter(Boolean);
  for (const c of candidates) {
    const r = spawnSync(c, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (r.status === 0) {
      const [maj, min] = r.stdout.trim().split('.').map(Number);
      if (maj === 3 && min >= 9) return c;
    }
  }
  throw new Error('Python >= 3.9 is required: install it or set PNAV_PYTHON to its path');
}

export function bootstrap() {
  checkNode();
  step(
    'npm',
    ['package.json', 'package-lock.json', 'sidecar/package.json', 'labextension/package.json', 'test/package.json'],
    () => {
      // `npm ci` installs exactly the lock file and never rewrites it, so a newcomer's tree stays clean.
      const lock = existsSync(join(ROOT, 'package-lock.json'));
      run('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund']);
    },
  );
  if (!existsSync(VENV_PYTHON)) {
    const py = findPython();
    run(py, ['-m', 'venv', VENV]);
    run(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', '--upgrade', 'pip']);
  }
  step('pip', ['python-shim/pyproject.toml'], () => {
    run(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', '-e', `${join(ROOT, 'python-shim')}[test]`]);
  });
  step(
    'sidecar-build',
    ['sidecar/src', 'sidecar/data', 'sidecar/tsconfig.json', 'sidecar/package.json', 'tsconfig.json'],
    () => {
      run('npm', ['run', 'build', '-w', 'sidecar']);
    },
  );
  if (existsSync(join(ROOT, 'labextension', 'src', 'index.ts'))) {
    step(
      'labextension-build',
      [
        'labextension/src',
        'labextension/style',
        'labextension/schema',
        'labextension/package.json',
        'labextension/tsconfig.json',
      ],
      () => {
        run('npm', ['run', 'build', '-w', 'labextension'], { env: { PATH: `${VENV_BIN}:${process.env.PATH}` } });
        if (existsSync(join(ROOT, 'labextension', 'scripts', 'install-dev.mjs'))) {
          run('node', ['labextension/scripts/install-dev.mjs'], { env: { PNAV_VENV: VENV } });
        }
      },
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    bootstrap();
    log('ready');
  } catch (err) {
    process.stderr.write(`[bootstrap] ${err.message}\n`);
    process.exit(1);
  }
}
