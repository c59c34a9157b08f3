/**
 * Runs a few of our modules in a child Node process as user `nobody`, for permission tests when the
 * suite runs as root (root ignores file modes, so EACCES can only be seen from another user).
 * The modules are transpiled (types stripped) with the repository's TypeScript into a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import ts from 'typescript';

const NOBODY = 65534;

/** Transpiles `modules` (absolute .ts paths) and runs `script` (ESM importing './<name>.js') as nobody; returns stdout. */
export function runAsNobody(modules: string[], script: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pnav-nobody-'));
  try {
    chmodSync(dir, 0o755);
    for (const file of modules) {
      const out = ts.transpileModule(readFileSync(file, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      writeFileSync(join(dir, basename(file).replace(/\.ts$/, '.js')), out.outputText, { mode: 0o644 });
    }
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}', { mode: 0o644 });
    writeFileSync(join(dir, 'main.js'), script, { mode: 0o644 });
    return execFileSync(process.execPath, [join(dir, 'main.js')], {
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8',
      cwd: dir,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
