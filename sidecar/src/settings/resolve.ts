/**
 * Effective settings and where each came from. Later layers win:
 *   built-in default → sidecar flags → user files → project files → PNAV_* env → arguments.
 * At the user and project levels calculadorapnav / CodeCarbon INI files rank just below our
 * own TOML file. A bad value in a file or variable is skipped with a warning, never fatal:
 * measurement must not break because a config file has a typo.
 */
import path from 'node:path';
import {
  defaultValues,
  isSettingKey,
  parseSettingValue,
  SETTING_KEYS,
  SETTINGS,
  SettingError,
  type SettingKey,
  type SettingValues,
  TOKEN_REFUSAL,
} from './definitions.js';
import {
  type FileLayer,
  ignoredLayer,
  LEGACY_TOOLS,
  legacyFileName,
  PROJECT_FILE,
  readLegacyLayer,
  readTomlLayer,
  recentFileLayers,
  type SettingsPaths,
  searchUpward,
  settingsFileDistrust,
  settingsPaths,
} from './files.js';

export interface SettingsWarning {
  source: string;
  key: string;
  message: string;
}

export interface ResolvedSettings {
  values: SettingValues;
  /** `default`, `sidecar:--pue`, `user:/…/config.toml`, `calculadorapnav:/…`, `project:/…/.pnav.toml`, `env:PNAV_PUE`, `argument`. */
  sources: Record<SettingKey, string>;
  warnings: SettingsWarning[];
  /** The files that took part, nearest last (for `pnav config` and writes). */
  files: string[];
}

export interface ResolveOptions {
  /** The notebook's (kernel's) directory: project files are searched from here upward. No cwd, no project level. */
  cwd?: string;
  /** The client's environment; only PNAV_* variables are read. */
  env?: Record<string, string | undefined>;
  /** The magic's or decorator's explicit arguments (already typed, or text). */
  args?: Partial<Record<SettingKey, unknown>>;
  /** Values given to `pnav sidecar` on its command line (--country, --pue, --gpu-ids, --sample-interval). */
  sidecar?: Partial<Record<SettingKey, unknown>>;
  paths?: SettingsPaths;
  /**
   * Reuse the file lookup of the same cwd for this many ms (0: look now). Opening a run passes 1000:
   * a profile showed the per-open stat walk as most of the open→close round trip.
   */
  fileLookupMaxAgeMs?: number;
}

const SIDECAR_FLAGS: Partial<Record<SettingKey, string>> = {
  country: '--country',
  pue: '--pue',
  gpu_ids: '--gpu-ids',
  sample_interval_ms: '--sample-interval',
};

/**
 * Resolutions reused while their file lookup is (fileLookupMaxAgeMs): same files, same client env,
 * same sidecar flags → same result. Keyed by the lookup's layers array, so they go with it.
 */
const recentResolutions = new WeakMap<FileLayer[], Map<string, ResolvedSettings>>();

export function resolveSettings(opts: ResolveOptions = {}): ResolvedSettings {
  const paths = opts.paths ?? settingsPaths();
  if (opts.fileLookupMaxAgeMs && !opts.args) {
    // Read-only for callers: shared by every run opened with these inputs within the window.
    const layers = recentFileLayers(opts.cwd, paths, opts.fileLookupMaxAgeMs, fileLayers);
    let byInputs = recentResolutions.get(layers);
    if (!byInputs) {
      byInputs = new Map();
      recentResolutions.set(layers, byInputs);
    }
    const key = JSON.stringify([opts.cwd ?? null, opts.env ?? null, opts.sidecar ?? null]);
    let resolved = byInputs.get(key);
    if (!resolved) {
      resolved = resolveFrom(layers, opts, paths);
      if (byInputs.size < 64) byInputs.set(key, resolved);
    }
    return resolved;
  }
  return resolveFrom(fileLayers(opts.cwd, paths), opts, paths);
}

function resolveFrom(layers: FileLayer[], opts: ResolveOptions, paths: SettingsPaths): ResolvedSettings {
  const values = defaultValues() as unknown as Record<SettingKey, unknown>;
  const sources = Object.fromEntries(SETTING_KEYS.map(k => [k, 'default'])) as Record<SettingKey, string>;
  const warnings: SettingsWarning[] = [];
  const files: string[] = [];

  const set = (key: SettingKey, value: unknown, source: string): void => {
    values[key] = key === 'output_dir' ? absoluteDir(value as string, opts.cwd, paths.homeDir) : value;
    sources[key] = source;
  };

  for (const [key, value] of definedEntries(opts.sidecar)) {
    set(key, parseSettingValue(key, value), `sidecar:${SIDECAR_FLAGS[key] ?? key}`);
  }

  for (const layer of layers) {
    if (!layer.ignored) files.push(layer.path);
    if (layer.error) {
      warnings.push({ source: layer.source, key: '*', message: layer.error });
      continue;
    }
    for (const { key, value } of layer.entries) {
      if (!isSettingKey(key)) {
        warnings.push({ source: layer.source, key, message: `${key}: ${unknownKeyMessage(key)}` });
        continue;
      }
      try {
        set(key, parseSettingValue(key, value), layer.source);
      } catch (err) {
        warnings.push({ source: layer.source, key, message: (err as Error).message });
      }
    }
  }

  for (const key of SETTING_KEYS) {
    const name = SETTINGS[key].env;
    const text = opts.env?.[name];
    if (text === undefined || text.trim() === '') continue;
    try {
      set(key, parseSettingValue(key, text), `env:${name}`);
    } catch (err) {
      warnings.push({ source: `env:${name}`, key, message: (err as Error).message });
    }
  }

  // Arguments are the user's direct input: a bad one is an error, not a warning.
  for (const [key, value] of definedEntries(opts.args)) set(key, parseSettingValue(key, value), 'argument');

  return { values: values as unknown as SettingValues, sources, warnings, files };
}

function definedEntries(record: Partial<Record<string, unknown>> | undefined): [SettingKey, unknown][] {
  const out: [SettingKey, unknown][] = [];
  for (const [key, value] of Object.entries(record ?? {})) {
    if (value === undefined || value === null) continue;
    if (!isSettingKey(key)) throw new SettingError(key, unknownKeyMessage(key));
    out.push([key, value]);
  }
  return out;
}

function unknownKeyMessage(key: string): string {
  return /(^|_)(token|api_key|apikey|password|secret)$/i.test(key)
    ? `ignored: ${TOKEN_REFUSAL}`
    : `unknown setting, ignored; known settings: ${SETTING_KEYS.join(', ')}`;
}

/** Every file layer in precedence order (weakest first); files another user could have written are ignored layers. */
export function fileLayers(cwd: string | undefined, paths: SettingsPaths): FileLayer[] {
  const layers: (FileLayer | null)[] = [];
  const trusted = (file: string, source: string, read: () => FileLayer | null): FileLayer | null => {
    const reason = settingsFileDistrust(file);
    return reason ? ignoredLayer(file, source, reason) : read();
  };
  for (const tool of LEGACY_TOOLS) {
    const file = path.join(paths.homeDir, legacyFileName(tool));
    layers.push(trusted(file, `${tool}:${file}`, () => readLegacyLayer(file, tool)));
  }
  layers.push(
    trusted(paths.userFile, `user:${paths.userFile}`, () => readTomlLayer(paths.userFile, `user:${paths.userFile}`)),
  );
  if (cwd) {
    for (const tool of LEGACY_TOOLS) {
      const found = searchUpward(cwd, paths.homeDir, legacyFileName(tool));
      for (const f of found.ignored) layers.push(ignoredLayer(f.path, `${tool}:${f.path}`, f.reason));
      if (found.file) layers.push(readLegacyLayer(found.file, tool));
    }
    const project = searchUpward(cwd, paths.homeDir, PROJECT_FILE);
    for (const f of project.ignored) layers.push(ignoredLayer(f.path, `project:${f.path}`, f.reason));
    if (project.file) layers.push(readTomlLayer(project.file, `project:${project.file}`));
  }
  return layers.filter((l): l is FileLayer => l !== null);
}

/** output_dir relative to the notebook's directory, like calculadorapnav's "." (the process's cwd). */
function absoluteDir(dir: string, cwd: string | undefined, homeDir: string): string {
  if (dir === '~') return homeDir;
  if (dir.startsWith('~/')) return path.join(homeDir, dir.slice(2));
  return cwd ? path.resolve(cwd, dir) : dir;
}

export interface SettingListing {
  key: SettingKey;
  value: unknown;
  source: string;
  description: string;
}

/** Every setting in a fixed order, as GET /api/v1/config and `pnav config` show them. */
export function settingsList(resolved: ResolvedSettings): SettingListing[] {
  return SETTING_KEYS.map(key => {
    const d = SETTINGS[key];
    const value = resolved.values[key];
    const unset = value === null && d.defaultMeaning ? ` (unset: ${d.defaultMeaning})` : '';
    return { key, value, source: resolved.sources[key], description: d.description + unset };
  });
}
