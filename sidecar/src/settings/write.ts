/**
 * Writes one setting to the user or project TOML file. The key and value are validated first,
 * so a bad one writes nothing; the file is replaced atomically and keeps its other keys.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { KeyedMutex, writeFileAtomic } from '../util/atomic-file.js';
import { parseSettingValue, requireSettingKey, SettingError, type SettingKey } from './definitions.js';
import { findUpward, forgetFile, PROJECT_FILE, type SettingsPaths, settingsPaths } from './files.js';

export type SettingScope = 'user' | 'project';

export interface WriteSettingRequest {
  key: string;
  /** A typed value or its text form (`"1.3"`, `"cpu,gpu"`); null removes the key from the file. */
  value: unknown;
  scope: SettingScope;
  /** The notebook's directory; required for the project scope. */
  cwd?: string;
  paths?: SettingsPaths;
}

export interface WriteSettingResult {
  key: SettingKey;
  /** The value as stored, or null when removed. */
  value: unknown;
  scope: SettingScope;
  path: string;
}

const writes = new KeyedMutex();
const HEADER = '# PNAV Lab settings (`pnav config` lists them all). Tokens are never stored here.\n';

export async function writeSetting(req: WriteSettingRequest): Promise<WriteSettingResult> {
  const key = requireSettingKey(req.key);
  const value = req.value === null ? null : parseSettingValue(key, req.value);
  const paths = req.paths ?? settingsPaths();
  const file = targetFile(req.scope, req.cwd, paths);
  await writes.run(file, async () => {
    const { table, text } = readTable(file);
    if (value === null) delete table[key];
    else table[key] = value;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // A new file explains itself; smol-toml drops other comments, so ours is the one kept.
    const header = text === null || text.startsWith(HEADER) ? HEADER : '';
    const body = stringifyToml(table).trimEnd();
    await writeFileAtomic(file, `${header}${body}${body ? '\n' : ''}`);
    forgetFile(file);
  });
  return { key, value, scope: req.scope, path: file };
}

/** The user file, or the nearest project file upward from cwd (created in cwd when there is none). */
export function targetFile(scope: SettingScope, cwd: string | undefined, paths: SettingsPaths): string {
  if (scope === 'user') return paths.userFile;
  if (!cwd) throw new SettingError('scope', "'project' needs the notebook's directory (cwd)");
  const dir = path.resolve(cwd);
  if (dir === path.resolve(paths.homeDir)) {
    throw new SettingError(
      'scope',
      "'project': the directory is your home directory, which is the user level; use the user scope",
    );
  }
  return findUpward(dir, paths.homeDir, PROJECT_FILE) ?? path.join(dir, PROJECT_FILE);
}

function readTable(file: string): { table: Record<string, unknown>; text: string | null } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { table: {}, text: null };
    throw err;
  }
  try {
    return { table: parseToml(text) as Record<string, unknown>, text };
  } catch (err) {
    // Rewriting a file we cannot parse would lose the user's content.
    throw new SettingError(
      'file',
      `${file} is not valid TOML, so it was left unchanged: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}
