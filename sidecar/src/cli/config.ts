/**
 * `pnav config`: with no assignment, prints every effective setting and where it came from;
 * `pnav config key=value [--user|--project]` validates every assignment first, then writes them.
 * A bad key or value exits 2 with a message naming the key, and nothing is written.
 */
import type { Command } from 'commander';
import { parseSettingValue, requireSettingKey, SETTINGS, SettingError } from '../settings/definitions.js';
import { resolveSettings, settingsList } from '../settings/resolve.js';
import { type SettingScope, writeSetting } from '../settings/write.js';

interface ConfigOptions {
  cwd: string;
  user?: boolean;
  project?: boolean;
  unset?: string[];
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('config')
    .description('show the effective settings and their sources, or write settings (key=value)')
    .argument('[assignments...]', 'settings to write, as key=value (e.g. pue=1.3 components=cpu,gpu)')
    .option('--cwd <dir>', "the notebook's directory: project files are searched from here upward", process.cwd())
    .option('--user', 'write to the per-user file (default)')
    .option('--project', 'write to the project file (.pnav.toml, nearest upward from --cwd, else created in --cwd)')
    .option('--unset <key...>', 'remove keys from the chosen file')
    .option('--json', 'print the listing as JSON')
    .action(async (assignments: string[], opts: ConfigOptions) => {
      process.exitCode = await runConfig(assignments, opts);
    });
}

async function runConfig(assignments: string[], opts: ConfigOptions): Promise<number> {
  if (opts.user && opts.project) return fail('choose one of --user and --project');
  const scope: SettingScope = opts.project ? 'project' : 'user';
  const writes: { key: string; value: unknown }[] = [];
  try {
    for (const assignment of assignments) {
      const eq = assignment.indexOf('=');
      if (eq <= 0) return fail(`expected key=value, got '${assignment}'`);
      const key = requireSettingKey(assignment.slice(0, eq).trim());
      const text = assignment.slice(eq + 1);
      parseSettingValue(key, text); // validate all before writing any
      writes.push({ key, value: text });
    }
    for (const key of opts.unset ?? []) writes.push({ key: requireSettingKey(key), value: null });
  } catch (err) {
    if (err instanceof SettingError) return fail(err.message);
    throw err;
  }

  if (writes.length > 0) {
    try {
      for (const w of writes) {
        const done = await writeSetting({ ...w, scope, cwd: opts.cwd });
        const shown = done.value === null ? 'removed' : `= ${formatValue(done.value)}`;
        process.stdout.write(`${done.key} ${shown}  (${scope}: ${done.path})\n`);
      }
    } catch (err) {
      return fail((err as Error).message);
    }
    return 0;
  }

  const resolved = resolveSettings({ cwd: opts.cwd, env: process.env });
  const rows = settingsList(resolved);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ settings: rows, warnings: resolved.warnings }, null, 2)}\n`);
    return 0;
  }
  const keyW = Math.max(...rows.map(r => r.key.length));
  const valueW = Math.min(40, Math.max(...rows.map(r => formatValue(r.value).length)));
  for (const r of rows) {
    const meaning = r.value === null ? SETTINGS[r.key].defaultMeaning : undefined;
    const source = meaning ? `${r.source} (${meaning})` : r.source;
    process.stdout.write(`${r.key.padEnd(keyW)}  ${formatValue(r.value).padEnd(valueW)}  ${source}\n`);
  }
  for (const w of resolved.warnings) process.stderr.write(`pnav config: warning: ${w.source}: ${w.message}\n`);
  return 0;
}

function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

function fail(message: string): number {
  process.stderr.write(`pnav config: ${message}\n`);
  return 2;
}
