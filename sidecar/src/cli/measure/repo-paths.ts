/**
 * Paths of the repository this sidecar was built in. The layout is the same from `src/cli/measure`
 * (tests) and `dist/measure` (the built CLI): three levels up is the repository root.
 */
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The sidecar's CLI entry point, to start a sidecar with the same code as ourselves. */
export const SIDECAR_CLI = fileURLToPath(new URL('../../../dist/cli.js', import.meta.url));

/** Finds an executable on PATH, like `which`. */
export function onPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** `jupyter`: env PNAV_JUPYTER, else the repository's virtual environment, else PATH. */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.PNAV_JUPYTER) return env.PNAV_JUPYTER;
  const venv = join(REPO_ROOT, '.venv', 'bin', 'jupyter');
  if (existsSync(venv)) return venv;
  return onPath('jupyter', env.PATH);
}
