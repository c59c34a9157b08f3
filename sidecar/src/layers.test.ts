/**
 * The folders of src/ are layers: a file imports only from its own folder or from folders on a
 * lower layer, so a run's energy flows one way (power → ledger → outputs → server) and a newcomer
 * can follow it by folder names. Type-only imports of `api/` (the wire contract) are allowed from
 * anywhere: they vanish at build time.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importsOf, productionFiles, unitOf } from '../scripts/import-graph.mjs';

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

const files: string[] = productionFiles(SRC);

describe('layers of sidecar/src', () => {
  it('names every top-level folder and root file in LAYERS', () => {
    expect([...new Set(files.map(file => unitOf(SRC, file)))].filter(unit => !layerOf.has(unit))).toEqual([]);
  });

  it('has no import that runs up or sideways between layers', () => {
    const imports: { from: string; to: string; typeOnly: boolean }[] = files.flatMap(file => importsOf(SRC, file));
    const upward = imports.filter(({ from, to, typeOnly }) => {
      const a = unitOf(SRC, path.join(SRC, from));
      const b = unitOf(SRC, path.join(SRC, to));
      if (a === b) return false;
      if (typeOnly && b === 'api') return false;
      return layerOf.get(b)! <= layerOf.get(a)!;
    });
    expect(upward.map(i => `${i.from} → ${i.to}`)).toEqual([]);
  });
});
