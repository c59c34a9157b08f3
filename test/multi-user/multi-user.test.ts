/**
 * Attacks by another local user, with two real OS users (alice, the victim; mallory, the attacker):
 * port squatting after `kill -9`, planted runtime files and symlinks, another user's pid in a stale
 * runtime file or lock, planted settings files. Each asserts what the attacker received or changed.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createUser,
  killStarted,
  makeBaseDir,
  type OsUser,
  pythonFor,
  removeUser,
  runAs,
  SIDECAR_CLI,
  skipReason,
  userEnv,
  waitFor,
} from './os-users.js';

const HERE = path.dirname(new URL(import.meta.url).pathname);
const why = skipReason();
if (why) process.stdout.write(`multi-user tests SKIPPED: ${why}\n`);

let base: string;
let alice: OsUser;
let mallory: OsUser;
let python: { python: string; env: Record<string, string> };
let pythonMissing: string | null = null;
let sysfsRoot: string;

/** Files owned by `user`, mode as given. */
function writeAs(user: OsUser, file: string, text: string, mode = 0o600): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  fs.chownSync(file, user.uid, user.gid);
  return file;
}

function mkdirAs(user: OsUser, dir: string, mode: number): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, mode);
  fs.chownSync(dir, user.uid, user.gid);
  return dir;
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await new Promise(r => server.once('listening', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise(r => server.close(r));
  return port;
}

/** Mallory's listener on `port`, recording all it receives; resolves once it listens. */
async function impostor(port: number): Promise<{ captured: () => string }> {
  const capture = writeAs(mallory, path.join(mallory.home, `capture-${port}`), '', 0o644);
  const ready = path.join(mallory.home, `ready-${port}`);
  const proc = runAs(mallory, python.python, ['-s', path.join(HERE, 'impostor.py'), String(port), capture, ready], {
    ...userEnv(mallory),
    ...python.env,
  });
  await waitFor(`mallory's listener on ${port} (${proc.out()})`, () => fs.existsSync(ready));
  return { captured: () => fs.readFileSync(capture, 'latin1') };
}

function sidecarArgs(runtimeDir: string): string[] {
  return [
    SIDECAR_CLI,
    'sidecar',
    '--runtime-dir',
    runtimeDir,
    '--sysfs-root',
    sysfsRoot,
    '--nvidia-smi',
    path.join(base, 'no-nvidia-smi'),
    '--country',
    'ESP',
  ];
}

interface RuntimeInfo {
  url: string;
  token: string;
  pid: number;
}

function readRuntime(runtimeDir: string): RuntimeInfo | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(runtimeDir, 'pnav-sidecar.json'), 'utf8')) as RuntimeInfo;
  } catch {
    return null;
  }
}

describe.skipIf(why !== null)('as another local user', () => {
  beforeAll(() => {
    base = makeBaseDir();
    alice = createUser(base, 'alice');
    mallory = createUser(base, 'mallory');
    const found = pythonFor(alice);
    if ('reason' in found) {
      pythonMissing = found.reason;
      process.stdout.write(`multi-user tests that run pnav_lab as a second user SKIPPED: ${found.reason}\n`);
    } else python = found;
    // A powercap tree both users can read (the real one's energy_uj is root-only).
    sysfsRoot = path.join(base, 'sys');
    const zone = path.join(sysfsRoot, 'class', 'powercap', 'intel-rapl:0');
    fs.mkdirSync(zone, { recursive: true, mode: 0o755 });
    fs.writeFileSync(path.join(zone, 'name'), 'package-0\n', { mode: 0o644 });
    fs.writeFileSync(path.join(zone, 'energy_uj'), '5000000\n', { mode: 0o644 });
    fs.writeFileSync(path.join(zone, 'max_energy_range_uj'), '262143328850\n', { mode: 0o644 });
    for (let dir = zone; dir !== base; dir = path.dirname(dir)) fs.chmodSync(dir, 0o755);
  });
  afterEach(() => killStarted());
  afterAll(() => {
    killStarted();
    if (alice) removeUser(alice);
    if (mallory) removeUser(mallory);
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  it("port squatting after kill -9: alice's kernel, server extension and CLI send no token to mallory's listener", async ctx => {
    if (pythonMissing) return ctx.skip(pythonMissing);
    const runtimeDir = path.join(alice.home, 'runtime');
    const sidecar = runAs(alice, process.execPath, sidecarArgs(runtimeDir), userEnv(alice));
    const info = await waitFor(`alice's sidecar (${sidecar.out()})`, () => readRuntime(runtimeDir));
    const port = Number(new URL(info.url).port);
    const pnavToken = randomBytes(32).toString('hex');
    const signals = mkdirAs(alice, path.join(alice.home, 'signals'), 0o755);
    const kernelEnv = { ...userEnv(alice), ...python.env, PNAV_SIDECAR_URL: info.url, PNAV_SIDECAR_TOKEN: info.token };
    const kernel = runAs(
      alice,
      python.python,
      ['-s', path.join(HERE, 'victim_kernel.py'), signals, pnavToken],
      kernelEnv,
    );
    await waitFor(`the kernel's open run (${kernel.out()})`, () => fs.existsSync(path.join(signals, 'opened')));
    expect(kernel.out()).toContain('opened True');

    process.kill(info.pid, 'SIGKILL');
    await sidecar.exit;
    const mal = await impostor(port);
    fs.writeFileSync(path.join(signals, 'go'), '');
    await kernel.exit;
    expect(kernel.out()).toContain('closed');
    expect(kernel.out()).toContain(
      `the process at ${info.url} did not prove it is the PNAV sidecar (the socket answering there belongs to uid ${mallory.uid}, not to you (uid ${alice.uid})); its token was not sent. Your code keeps running.`,
    );
    const afterKernel = mal.captured();
    expect(afterKernel).not.toContain(info.token);
    expect(afterKernel).not.toContain(pnavToken);
    expect(afterKernel).toContain('GET /healthz?challenge='); // the kernel did try the port: only the challenge went

    const server = runAs(alice, python.python, ['-s', path.join(HERE, 'victim_server.py'), info.url], kernelEnv);
    await server.exit;
    expect(server.out()).toContain('ensure: None');
    expect(server.out()).toContain(
      `proxy refused: NotTheSidecar: the process at 127.0.0.1:${port} is not the PNAV sidecar (the socket answering there belongs to uid ${mallory.uid}, not to you (uid ${alice.uid})); its token was not sent`,
    );

    const cli = runAs(alice, process.execPath, [SIDECAR_CLI, 'upload', '--status'], kernelEnv);
    expect(await cli.exit).toBe(2);
    expect(cli.out()).toContain(`PNAV_SIDECAR_URL: ${info.url} did not prove it holds this sidecar's token`);

    const captured = mal.captured();
    expect(captured).not.toContain(info.token);
    expect(captured).not.toContain(pnavToken);
    expect(captured).not.toMatch(/authorization/i);
  });

  it("a runtime dir mallory planted (file naming her listener, symlinks to alice's files) is refused with the reason", async ctx => {
    if (pythonMissing) return ctx.skip(pythonMissing);
    const port = await freePort();
    const mal = await impostor(port);
    const shared = mkdirAs(mallory, path.join(base, 'shared-runtime'), 0o777);
    writeAs(
      mallory,
      path.join(shared, 'pnav-sidecar.json'),
      JSON.stringify({ url: `http://127.0.0.1:${port}`, token: 'mallory', pid: 1, version: '0.1.0' }),
      0o644,
    );
    const notes = writeAs(alice, path.join(alice.home, 'notes.txt'), 'alice notes\n', 0o644);
    const other = writeAs(alice, path.join(alice.home, 'other.txt'), 'alice other\n', 0o644);
    for (const [name, target] of [
      ['pnav-sidecar.log', notes],
      ['pnav-sidecar.spawn.lock', other],
    ] as const) {
      fs.symlinkSync(target, path.join(shared, name));
      fs.lchownSync(path.join(shared, name), mallory.uid, mallory.gid);
    }
    const env = { ...userEnv(alice), ...python.env, PNAV_RUNTIME_DIR: shared };
    const refusal = `refusing ${shared}: the runtime dir is owned by uid ${mallory.uid}, not by you (uid ${alice.uid})`;

    const sidecar = runAs(alice, process.execPath, sidecarArgs(shared), env);
    expect(await sidecar.exit).toBe(1);
    expect(sidecar.out()).toContain(`pnav sidecar: ${refusal}; set --runtime-dir or PNAV_RUNTIME_DIR`);

    const kernel = runAs(alice, python.python, ['-s', path.join(HERE, 'victim_client.py')], env);
    await kernel.exit;
    expect(kernel.out()).toContain(`unavailable: ${refusal}`);

    expect(mal.captured()).toBe('');
    for (const [file, text] of [
      [notes, 'alice notes\n'],
      [other, 'alice other\n'],
    ] as const) {
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
      expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    }
  });

  it("a stale runtime file and data-dir lock naming a pid now used by mallory's process do not block alice's sidecar", async () => {
    const squatter = runAs(mallory, 'sleep', ['120'], userEnv(mallory));
    const pid = squatter.child.pid!;
    const runtimeDir = mkdirAs(alice, path.join(alice.home, 'stale-runtime'), 0o700);
    const dataDir = mkdirAs(alice, path.join(alice.home, 'stale-data'), 0o700);
    writeAs(
      alice,
      path.join(runtimeDir, 'pnav-sidecar.json'),
      JSON.stringify({
        url: 'http://127.0.0.1:9',
        token: 'old',
        pid,
        version: '0.1.0',
        started_at: '2026-01-01T00:00:00Z',
      }),
    );
    writeAs(alice, path.join(dataDir, 'sidecar.lock'), String(pid));
    const sidecar = runAs(alice, process.execPath, [...sidecarArgs(runtimeDir), '--data-dir', dataDir], userEnv(alice));
    const info = await waitFor(`a new runtime file (${sidecar.out()})`, () => {
      const r = readRuntime(runtimeDir);
      return r && r.pid !== pid ? r : null;
    });
    expect(info.pid).toBe(sidecar.child.pid);
    expect(sidecar.out()).not.toContain('already running');
  });

  it("settings files mallory planted in a shared ancestor do not set alice's PUE, country or CSV folder", async () => {
    const shared = path.join(base, 'shared-projects');
    fs.mkdirSync(shared, { mode: 0o777 });
    fs.chmodSync(shared, 0o777);
    const malloryOut = mkdirAs(mallory, path.join(base, 'mallory-out'), 0o777);
    const toml = writeAs(
      mallory,
      path.join(shared, '.pnav.toml'),
      `pue = 3\ncountry = "POL"\noutput_dir = "${malloryOut}"\n`,
      0o644,
    );
    const ini = writeAs(mallory, path.join(shared, '.calculadorapnav.config'), '[calculadorapnav]\npue = 2.5\n', 0o644);
    const project = mkdirAs(alice, path.join(shared, 'alice-proj'), 0o755);
    const config = runAs(alice, process.execPath, [SIDECAR_CLI, 'config', '--cwd', project, '--json'], userEnv(alice));
    expect(await config.exit).toBe(0);
    const listing = JSON.parse(config.out()) as {
      settings: { key: string; value: unknown; source: string }[];
      warnings: { source: string; message: string }[];
    };
    const setting = (key: string) => listing.settings.find(s => s.key === key)!;
    expect(setting('pue')).toMatchObject({ value: 1, source: 'default' });
    expect(setting('country').value).not.toBe('POL');
    expect(setting('output_dir').value).not.toBe(malloryOut);
    const reason = `its directory ${shared} is writable by every user`;
    expect(listing.warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: `project:${toml}`, message: `ignored ${toml}: ${reason}` }),
        expect.objectContaining({ source: `calculadorapnav:${ini}`, message: `ignored ${ini}: ${reason}` }),
      ]),
    );
  });
});
