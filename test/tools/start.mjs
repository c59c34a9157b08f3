#!/usr/bin/env node
/**
 * `npm start`: installs and builds what is missing, then starts JupyterLab with the PNAV Lab
 * lab extension, the server extension (which starts the sidecar and proxies /pnav/) and a demo
 * notebook that trains a small model inside %%pnav cells. Extra arguments go to `jupyter lab`,
 * e.g. `npm start -- --no-browser --port 9999`.
 *
 * Notebooks live in .pnav-dev/notebooks (git-ignored), so playing with the demo never dirties the
 * repository; the demo is copied there once from python-shim/examples/.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrap, ROOT, VENV_BIN } from './bootstrap.mjs';

bootstrap();

const notebooks = join(ROOT, '.pnav-dev', 'notebooks');
mkdirSync(notebooks, { recursive: true });
const demo = join(notebooks, 'pnav-demo.ipynb');
if (!existsSync(demo)) copyFileSync(join(ROOT, 'python-shim', 'examples', 'pnav-demo.ipynb'), demo);

const lab = spawn(
  join(VENV_BIN, 'jupyter'),
  ['lab', `--ServerApp.root_dir=${notebooks}`, ...process.argv.slice(2), 'pnav-demo.ipynb'],
  { stdio: 'inherit', env: { ...process.env, PATH: `${VENV_BIN}:${process.env.PATH}` } },
);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => lab.kill(sig));
lab.on('exit', code => process.exit(code ?? 0));
