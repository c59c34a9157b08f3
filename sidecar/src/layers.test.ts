/**
 * The folders of src/ are layers: a file imports only from its own folder or from folders on a
 * lower layer, so a run's energy flows one way (power → ledger → outputs → server) and a newcomer
 * can follow it by folder names. Type-only imports of `api/` (the wire contract) are allowed from
 * anywhere: they vanish at build time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = path.dirname(fileURLToPath(import.meta.url));

/** Top to bottom; folders on one line are peers and do not import each other. */
const LAYERS: string[][] = [
  ['cli.ts', 'cli-preamble.ts', 'index.ts'],
  ['cli'],
  ['server'],
  ['config.ts'],
  ['ledger', 'sampler', 'metrics', 'outputs'],
  ['settings', 'store', 'power'],
  ['api'],
  ['carbon'],
  ['util'],
];

const layerOf = new Map(LAYERS.flatMap((names, rank) => names.map(name => [name, rank] as const)));

function productionFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return productionFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** The top-level folder (or root file) of src/ that a path belongs to. */
function unitOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

const IMPORT =
  /(?:^|\n)\s*(import|export)\s+(type\s+)?(\{[^}]*\}|[\w*\s,]+?)?\s*from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const specifier = m[4] ?? m[5]!;
    const names = m[3] ?? '';
    const allTypes =
      names.startsWith('{') &&
      names
        .slice(1, -1)
        .split(',')
        .every(n => /^\s*(type\s|$)/.test(n));
    const typeOnly = Boolean(m[2]) || (m[4] !== undefined && allTypes);
    const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts');
    found.push({ from: path.relative(SRC, file), to: path.relative(SRC, target), typeOnly });
  }
  return found;
}

const files = productionFiles(SRC);

describe('layers of sidecar/src', () => {
  it('names every top-level folder and root file in LAYERS', () => {
    expect([...new Set(files.map(unitOf))].filter(unit => !layerOf.has(unit))).toEqual([]);
  });

  it('has no import that runs up or sideways between layers', () => {
    const upward = files.flatMap(importsOf).filter(({ from, to, typeOnly }) => {
      const a = unitOf(path.join(SRC, from));
      const b = unitOf(path.join(SRC, to));
      if (a === b) return false;
      if (typeOnly && b === 'api') return false;
      return layerOf.get(b)! <= layerOf.get(a)!;
    });
    expect(upward.map(i => `${i.from} → ${i.to}`)).toEqual([]);
  });
});
