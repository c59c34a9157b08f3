#!/usr/bin/env node
/**
 * Makes the built extension visible to a JupyterLab for development: links
 * (or with --copy, copies) `python-shim/pnav_lab/labextension` to
 * `<prefix>/share/jupyter/labextensions/pnav-lab-labextension`.
 *
 *   node labextension/scripts/install-dev.mjs [--prefix <venv>] [--copy]
 *
 * The prefix defaults to $PNAV_VENV, else <repo>/.venv. A pip install of the
 * wheel puts the same files in the same place through shared-data.
 */
import { cpSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extensionDir = resolve(here, '..');
const repoDir = resolve(extensionDir, '..');
const pkg = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
const built = resolve(extensionDir, pkg.jupyterlab.outputDir);

const argv = process.argv.slice(2);
const prefixAt = argv.indexOf('--prefix');
const prefix = resolve(prefixAt >= 0 ? argv[prefixAt + 1] : (process.env.PNAV_VENV ?? join(repoDir, '.venv')));
const copy = argv.includes('--copy');

if (!existsSync(join(built, 'package.json'))) {
  console.error(`install-dev: ${built} has no build; run 'npm run build -w labextension' first.`);
  process.exit(1);
}
const target = join(prefix, 'share', 'jupyter', 'labextensions', pkg.name);
mkdirSync(dirname(target), { recursive: true });
let existing = null;
try {
  existing = lstatSync(target);
} catch {
  existing = null;
}
if (existing) rmSync(target, { recursive: true, force: true });
if (copy) {
  cpSync(built, target, { recursive: true });
} else {
  // Relative, so the link survives moving the checkout with its venv.
  symlinkSync(relative(dirname(target), built), target, 'dir');
}
console.log(`install-dev: ${copy ? 'copied' : 'linked'} ${built} -> ${target}`);
