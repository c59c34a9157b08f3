/**
 * Where settings files live and how each one becomes a layer of raw key → value pairs.
 * Our own files are TOML (smol-toml); calculadorapnav / CodeCarbon files are INI (ini) and
 * their keys are mapped onto ours so existing users keep their settings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse as parseIni } from 'ini';
import { parse as parseToml } from 'smol-toml';
import { untrustedReason } from '../util/trusted-path.js';
import type { SettingKey } from './definitions.js';

export const PROJECT_FILE = '.pnav.toml';
export const LEGACY_TOOLS = ['codecarbon', 'calculadorapnav'] as const;
export type LegacyTool = (typeof LEGACY_TOOLS)[number];

export interface SettingsPaths {
  homeDir: string;
  /** $XDG_CONFIG_HOME/pnav-lab/config.toml, else ~/.config/pnav-lab/config.toml. */
  userFile: string;
}

/** Paths from the sidecar's (or CLI's) own environment, not a client's. */
export function settingsPaths(env: Record<string, string | undefined> = process.env): SettingsPaths {
  const homeDir = env.HOME || os.homedir();
  const configHome = env.XDG_CONFIG_HOME || path.join(homeDir, '.config');
  return { homeDir, userFile: path.join(configHome, 'pnav-lab', 'config.toml') };
}

/** One file's contribution: raw values (still to be validated) keyed by our setting names. */
export interface FileLayer {
  /** e.g. `user:/home/ana/.config/pnav-lab/config.toml`. */
  source: string;
  path: string;
  /** Raw values; TOML values keep their type, INI values are strings. */
  entries: { key: string; value: unknown }[];
  /** Set when the file exists but cannot be parsed, or was ignored (`ignored`). */
  error: string | null;
  /** The file was not read: another user could have written it (`error` says why). */
  ignored?: boolean;
}

/** A layer for a file passed over, so `pnav config` / `%pnav config` can say which and why. */
export function ignoredLayer(file: string, source: string, reason: string): FileLayer {
  return { source, path: file, entries: [], error: `ignored ${file}: ${reason}`, ignored: true };
}

/** calculadorapnav / CodeCarbon key → our key (measure_power_secs is converted to ms). */
const LEGACY_KEYS: Record<string, SettingKey> = {
  country_iso_code: 'country',
  region: 'region',
  cloud_provider: 'cloud_provider',
  cloud_region: 'cloud_region',
  pue: 'pue',
  type_ram: 'type_ram',
  gpu_ids: 'gpu_ids',
  measure_power_secs: 'sample_interval_ms',
  output_dir: 'output_dir',
  endpoint_url: 'endpoint_url',
  model_id: 'model_id',
  type_process: 'type_process',
};

/** The directories searched for project files: cwd upward, stopping below the home dir (that level is the user's). */
export function projectDirs(cwd: string, homeDir: string): string[] {
  const dirs: string[] = [];
  const home = path.resolve(homeDir);
  let dir = path.resolve(cwd);
  const insideHome = dir.startsWith(home + path.sep);
  for (;;) {
    if (dir === home) break;
    dirs.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir || (insideHome && parent === home)) break;
    dir = parent;
  }
  return dirs;
}

/** The nearest file named `name` from cwd upward (project level) that we may trust, or null. */
export function findUpward(cwd: string, homeDir: string, name: string): string | null {
  return searchUpward(cwd, homeDir, name).file;
}

/** A settings file passed over because another user could have written it. */
export interface IgnoredFile {
  path: string;
  reason: string;
}

/**
 * The nearest trusted `name` from cwd upward, and the files passed over on the way. Only files owned
 * by us (or root), not writable by others, in directories others cannot write, are read: another
 * user's file in a shared ancestor like /tmp must not set our PUE, country or output folder. The
 * search stops at the first world-writable directory: anyone may put anything there or above.
 */
export function searchUpward(
  cwd: string,
  homeDir: string,
  name: string,
): { file: string | null; ignored: IgnoredFile[] } {
  const ignored: IgnoredFile[] = [];
  for (const dir of projectDirs(cwd, homeDir)) {
    const candidate = path.join(dir, name);
    const present = isFile(candidate);
    const dirStat = statOrNull(dir);
    if (dirStat && isWorldWritable(dirStat)) {
      if (present) ignored.push({ path: candidate, reason: `its directory ${dir} is writable by every user` });
      break;
    }
    if (!present) continue;
    const reason = settingsFileDistrust(candidate, dirStat);
    if (reason) {
      ignored.push({ path: candidate, reason });
      continue;
    }
    return { file: candidate, ignored };
  }
  return { file: null, ignored };
}

/** Why a settings file (at home or in a project) cannot be trusted, or null when it can. */
export function settingsFileDistrust(file: string, dirStat = statOrNull(path.dirname(file))): string | null {
  const st = statOrNull(file);
  if (!st) return null;
  const own = untrustedReason(st, { allowRoot: true });
  if (own) return `the file is ${own}`;
  if (dirStat) {
    const dirReason = untrustedReason(dirStat, { allowRoot: true });
    if (dirReason) return `its directory ${path.dirname(file)} is ${dirReason}`;
  }
  return null;
}

function isWorldWritable(st: fs.Stats): boolean {
  return typeof process.getuid === 'function' && (st.mode & 0o002) !== 0;
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

function isFile(p: string): boolean {
  try {
    // throwIfNoEntry: a missing file (the usual case going upward) costs no exception.
    return fs.statSync(p, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch {
    return false;
  }
}

interface CacheEntry {
  mtimeMs: number;
  size: number;
  layer: FileLayer;
}
// Runs open often; a file is parsed again only when it changes.
const cache = new Map<string, CacheEntry>();

function cached(file: string, source: string, read: (text: string) => FileLayer['entries']): FileLayer | null {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    return null;
  }
  if (!st?.isFile()) return null;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.layer.source === source) return hit.layer;
  let layer: FileLayer;
  try {
    layer = { source, path: file, entries: read(fs.readFileSync(file, 'utf8')), error: null };
  } catch (err) {
    layer = { source, path: file, entries: [], error: `cannot read ${file}: ${(err as Error).message}` };
  }
  cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, layer });
  return layer;
}

/** Our TOML file: flat top-level keys. Returns null when the file does not exist. */
export function readTomlLayer(file: string, source: string): FileLayer | null {
  return cached(file, source, text => Object.entries(parseToml(text)).map(([key, value]) => ({ key, value })));
}

/** A calculadorapnav / CodeCarbon INI file: only the tool's own section, keys mapped to ours. */
export function readLegacyLayer(file: string, tool: LegacyTool): FileLayer | null {
  return cached(file, `${tool}:${file}`, text => {
    const parsed = parseIni(text) as Record<string, unknown>;
    const section = parsed[tool];
    if (!section || typeof section !== 'object') return [];
    const entries: FileLayer['entries'] = [];
    for (const [legacyKey, raw] of Object.entries(section as Record<string, unknown>)) {
      const key = LEGACY_KEYS[legacyKey.trim().toLowerCase()];
      if (!key || raw === null || typeof raw === 'object') continue; // keys of theirs we do not use (log_level, ...)
      const text = String(raw).trim();
      entries.push({ key, value: key === 'sample_interval_ms' ? secondsToMs(text) : text });
    }
    return entries;
  });
}

function secondsToMs(text: string): unknown {
  const s = Number(text);
  return text !== '' && Number.isFinite(s) ? Math.round(s * 1000) : text;
}

export function legacyFileName(tool: LegacyTool): string {
  return `.${tool}.config`;
}

/** Drops the cached parse of a file we just wrote (its mtime may not have moved within one tick). */
export function forgetFile(file: string): void {
  cache.delete(file);
  forgetLookups(); // a file we created must be seen by the next run at once
}

// ------------------------------------------------------------ the lookup of a cwd, reused briefly

interface Lookup {
  atMs: number;
  layers: FileLayer[];
}
/** Notebook directories seen recently; bounded, oldest dropped first. */
const lookups = new Map<string, Lookup>();
const MAX_LOOKUPS = 256;

/**
 * The file layers of `cwd`, looked up (a stat per candidate directory and file) at most once per
 * `maxAgeMs`: opening a run must not walk the filesystem each time. A file created or changed
 * outside this process is seen within `maxAgeMs`; one written through `writeSetting` at once.
 */
export function recentFileLayers(
  cwd: string | undefined,
  paths: SettingsPaths,
  maxAgeMs: number,
  lookUp: (cwd: string | undefined, paths: SettingsPaths) => FileLayer[],
): FileLayer[] {
  const key = `${cwd ?? ''}\0${paths.homeDir}\0${paths.userFile}`;
  const now = performance.now();
  const hit = lookups.get(key);
  if (hit && now - hit.atMs < maxAgeMs) return hit.layers;
  const layers = lookUp(cwd, paths);
  lookups.delete(key); // re-inserted last: the map's order is the age order
  lookups.set(key, { atMs: now, layers });
  if (lookups.size > MAX_LOOKUPS) lookups.delete(lookups.keys().next().value!);
  return layers;
}

export function forgetLookups(): void {
  lookups.clear();
}
