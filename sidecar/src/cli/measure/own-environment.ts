/**
 * What `pnav measure` starts besides itself, found from the environment it runs in, never from where
 * this code was built: the `jupyter` of that environment, and this same CLI for a sidecar.
 */
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds an executable on PATH, like `which`. */
export function onPath(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * `jupyter`: env PNAV_JUPYTER (the `pnav` Python console script sets it to the one installed beside
 * it), else the active virtual environment's, else PATH.
 */
export function findJupyter(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.PNAV_JUPYTER) return env.PNAV_JUPYTER;
  if (env.VIRTUAL_ENV) {
    const venv = join(env.VIRTUAL_ENV, 'bin', 'jupyter');
    if (existsSync(venv)) return venv;
  }
  return onPath('jupyter', env.PATH);
}

/**
 * `[node, script]` running this same CLI: the Node running us and the script we were started as
 * (dist/cli.js, the wheel's single-file bundle, or npm's bin link to either, resolved).
 */
export function ownCliCommand(argv: readonly string[] = process.argv): [string, string] {
  const script = argv[1];
  if (!script || !existsSync(script)) throw new Error(`cannot tell which script runs this CLI (argv[1] = ${script})`);
  return [process.execPath, realpathSync(script)];
}
