#!/usr/bin/env node
/**
 * Builds the prebuilt extension with @jupyterlab/builder against the core
 * packages of the JupyterLab the project runs (its `staging/package.json`),
 * into `jupyterlab.outputDir` (python-shim/pnav_lab/labextension).
 *
 * The Python used to find JupyterLab: $PNAV_PYTHON, else <repo>/.venv/bin/python, else python3.
 * `--development` builds unminified with source maps.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extensionDir = resolve(here, '..');
const repoDir = resolve(extensionDir, '..');

function pythonCommand() {
  if (process.env.PNAV_PYTHON) return process.env.PNAV_PYTHON;
  const venv = join(repoDir, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

const python = pythonCommand();
const probe = spawnSync(
  python,
  ['-c', 'import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))'],
  { encoding: 'utf8' },
);
if (probe.status !== 0) {
  console.error(`build-labextension: JupyterLab is not importable with ${python}:\n${probe.stderr}`);
  process.exit(1);
}
const corePath = probe.stdout.trim();
const require = createRequire(join(extensionDir, 'package.json'));
const builder = require.resolve('@jupyterlab/builder/lib/build-labextension.js');
const args = [builder, '--core-path', corePath, extensionDir];
if (process.argv.includes('--development')) args.push('--development', '--source-map');
console.log(`build-labextension: core ${corePath}`);
const run = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: extensionDir });
if (run.status !== 0) process.exit(run.status ?? 1);

// The builder empties the output directory; put back what `jupyter labextension list` reads about the installer.
const pkg = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
const installJson = {
  packageManager: 'python',
  packageName: 'pnav-lab',
  uninstallInstructions: 'Use your Python package manager (pip, conda, etc.) to uninstall the package pnav-lab',
};
writeFileSync(
  join(extensionDir, pkg.jupyterlab.outputDir, 'install.json'),
  `${JSON.stringify(installJson, null, 2)}\n`,
);
