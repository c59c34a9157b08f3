#!/usr/bin/env node
/**
 * The import graph of sidecar/src between its top-level folders (and root files), production files
 * only: how many layers, and which imports run back up them. `src/layers.test.ts` fails on such an
 * import; this prints the picture:
 *
 *   node sidecar/scripts/import-graph.mjs [sidecar/src]
 *
 * Type-only imports (`import type`, or every name marked `type`) vanish at build time; they are
 * listed apart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const IMPORT =
  /(?:^|\n)\s*(import|export)\s+(type\s+)?(\{[^}]*\}|[\w*\s,]+?)?\s*from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;

export function productionFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return productionFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** The top-level folder (or root file) of `src` that a path belongs to. */
export function unitOf(src, file) {
  return path.relative(src, file).split(path.sep)[0];
}

/** Relative imports of one file: `{from, to}` paths relative to `src`, and whether only types come. */
export function importsOf(src, file) {
  const found = [];
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const specifier = m[4] ?? m[5];
    const names = m[3] ?? '';
    const allTypes =
      names.startsWith('{') &&
      names
        .slice(1, -1)
        .split(',')
        .every(n => /^\s*(type\s|$)/.test(n));
    const typeOnly = Boolean(m[2]) || (m[4] !== undefined && allTypes);
    const target = path.resolve(path.dirname(file), specifier).replace(/\.js$/, '.ts');
    found.push({ from: path.relative(src, file), to: path.relative(src, target), typeOnly });
  }
  return found;
}

function report(src) {
  const files = productionFiles(src);
  const edges = files
    .flatMap(file => importsOf(src, file))
    .map(i => ({ ...i, a: unitOf(src, path.join(src, i.from)), b: unitOf(src, path.join(src, i.to)) }))
    .filter(e => e.a !== e.b);
  const units = [...new Set(files.map(file => unitOf(src, file)))].sort();
  const valueEdges = new Map(units.map(u => [u, new Set()]));
  for (const e of edges) if (!e.typeOnly) valueEdges.get(e.a).add(e.b);
  const reaches = (from, to) => {
    const seen = new Set([from]);
    const stack = [from];
    while (stack.length > 0) {
      const unit = stack.pop();
      if (unit === to) return true;
      for (const next of valueEdges.get(unit)) {
        if (seen.has(next)) continue;
        seen.add(next);
        stack.push(next);
      }
    }
    return false;
  };
  const backEdges = edges.filter(e => !e.typeOnly && reaches(e.b, e.a));
  const typeBack = edges.filter(e => e.typeOnly && reaches(e.b, e.a));
  const level = new Map();
  const levelOf = u => {
    if (!level.has(u)) {
      level.set(u, 0); // a cycle stops here; backEdges names it
      level.set(u, Math.max(0, ...[...valueEdges.get(u)].filter(n => !reaches(n, u)).map(n => levelOf(n) + 1)));
    }
    return level.get(u);
  };
  const top = Math.max(...units.map(levelOf));
  console.log(`${units.length} top-level folders and root files, ${top + 1} import levels, ${files.length} files`);
  for (let l = top; l >= 0; l--) console.log(`  level ${l}: ${units.filter(u => levelOf(u) === l).join(', ')}`);
  console.log(`imports that run back up (value): ${backEdges.length}`);
  for (const e of backEdges) console.log(`  ${e.from} → ${e.to}`);
  console.log(`type-only imports against the layers: ${typeBack.length}`);
  for (const e of typeBack) console.log(`  ${e.from} → ${e.to}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  report(path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src')));
}
