#!/usr/bin/env node
/**
 * `npm start`: installs and builds what is missing, then starts JupyterLab with the PNAV Lab
 * lab extension, the server extension (which starts the sidecar and proxies /pnav/) and the demo
 * notebook open. Extra arguments go to `jupyter lab`, e.g. `npm start -- --no-browser --port 9999`.
 *
 * Everything this checkout writes lives in .pnav-dev/ (git-ignored): the notebooks (the demo is
 * copied there, so playing with it never dirties the repository), and the sidecar's runtime and
 * data dirs, so this checkout starts its own sidecar instead of attaching to one another checkout
 * or a pip-installed PNAV Lab left running.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { bootstrap, ROOT, VENV_BIN } from './bootstrap.mjs';

const DEMO = 'pnav-demo.ipynb';

bootstrap();

const dev = join(ROOT, '.pnav-dev');
const notebooks = join(dev, 'notebooks');
mkdirSync(notebooks, { recursive: true });
refreshDemo(join(ROOT, 'python-shim', 'examples', DEMO), join(notebooks, DEMO), join(dev, `${DEMO}.source-sha256`));

const args = ['lab', `--ServerApp.root_dir=${notebooks}`, ...process.argv.slice(2)];
// Jupyter refuses to run as root without this; containers and fresh VMs often are root.
if (process.getuid?.() === 0 && !args.includes('--allow-root')) args.push('--allow-root');
// A positional file is resolved against the working directory, so JupyterLab runs in the notebooks folder.
args.push(DEMO);

const lab = spawn(join(VENV_BIN, 'jupyter'), args, {
  cwd: notebooks,
  stdio: ['inherit', 'inherit', 'pipe'],
  env: {
    ...process.env,
    PATH: `${VENV_BIN}:${process.env.PATH}`,
    PNAV_RUNTIME_DIR: join(dev, 'runtime'),
    PNAV_DATA_DIR: join(dev, 'data'),
  },
});
let announced = false;
lab.stderr.on('data', chunk => {
  process.stderr.write(chunk);
  const url = announced ? null : /(http:\/\/(?:localhost|127\.0\.0\.1)[^\s]*\/lab[^\s]*)/.exec(String(chunk));
  if (url) {
    announced = true;
    const rel = path => relative(process.cwd(), path) || '.';
    process.stdout.write(
      `\nPNAV Lab: JupyterLab at ${url[1]} · notebooks in ${rel(notebooks)} · sidecar data in ${rel(join(dev, 'data'))}\n\n`,
    );
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => lab.kill(sig));
lab.on('exit', code => process.exit(code ?? 0));

/** Copies the demo in, and updates a copy the user has not changed when the repository's demo changes. */
function refreshDemo(source, target, stamp) {
  // The stamp lives outside the notebooks folder, so the file browser shows only the notebook.
  const hash = file => createHash('sha256').update(readFileSync(file)).digest('hex');
  const pristine = existsSync(target) && existsSync(stamp) && hash(target) === readFileSync(stamp, 'utf8');
  if (existsSync(target) && !pristine) return;
  copyFileSync(source, target);
  writeFileSync(stamp, hash(target));
}
