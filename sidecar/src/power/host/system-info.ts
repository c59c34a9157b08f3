/**
 * systeminformation for the start-up probe only (DIMMs, GPU controllers): required on first use and
 * dropped from the require cache once no probe uses it, so its modules (~2 MB of heap, ~10 MB
 * resident with their code) can be collected instead of staying for the sidecar's whole life.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

type SystemInformation = typeof import('systeminformation');

let users = 0;

export async function withSystemInformation<T>(use: (si: SystemInformation) => Promise<T>): Promise<T> {
  // A require of our own for each use: the module object behind it lists what it loaded (its
  // `children`), so keeping one would keep systeminformation alive after forget().
  const require = createRequire(import.meta.url);
  const si = require('systeminformation') as SystemInformation;
  users++;
  try {
    return await use(si);
  } finally {
    if (--users === 0) forget(require);
  }
}

function forget(require: NodeJS.Require): void {
  let root: string;
  try {
    root = path.dirname(require.resolve('systeminformation/package.json'));
  } catch {
    return;
  }
  for (const file of Object.keys(require.cache)) if (file.startsWith(root + path.sep)) delete require.cache[file];
}
