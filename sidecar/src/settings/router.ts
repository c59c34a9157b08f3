/**
 * `/api/v1/config`: GET lists every effective setting with its source, PUT writes one setting
 * to the user or project file. Mounted by the app under the API prefix (auth is the app's job).
 */
import fs from 'node:fs';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { ConfigQuerySchema, PutConfigRequestSchema } from '../api/schemas.js';
import { SettingError, type SettingKey } from './definitions.js';
import type { SettingsPaths } from './files.js';
import { resolveSettings, settingsList } from './resolve.js';
import { writeSetting } from './write.js';

export interface ConfigRouterOptions {
  paths?: SettingsPaths;
  /** Values from `pnav sidecar`'s own flags (source `sidecar:--flag`). */
  sidecar?: Partial<Record<SettingKey, unknown>>;
}

const CLIENT_ENV_NAME = /^(PNAV_[A-Z0-9_]+|CUDA_VISIBLE_DEVICES)$/;
const ClientEnvSchema = z.record(z.string(), z.string().max(1000));

/** `app.use(API_PREFIX, createConfigRouter(...))` serves GET and PUT `${API_PREFIX}/config`. */
export function createConfigRouter(opts: ConfigRouterOptions = {}): Router {
  const router = express.Router();

  router.get('/config', (req, res) => {
    const query = ConfigQuerySchema.safeParse(req.query);
    if (!query.success) return badRequest(res, zodIssues(query.error));
    let env: Record<string, string> | undefined;
    if (query.data.env !== undefined) {
      let raw: unknown;
      try {
        raw = JSON.parse(query.data.env);
      } catch {
        return badRequest(res, [{ path: 'env', message: 'must be a JSON object of PNAV_* variables' }]);
      }
      const parsed = ClientEnvSchema.safeParse(raw);
      if (!parsed.success) return badRequest(res, zodIssues(parsed.error, 'env'));
      const foreign = Object.keys(parsed.data).find(name => !CLIENT_ENV_NAME.test(name));
      if (foreign)
        return badRequest(res, [{ path: `env.${foreign}`, message: 'only PNAV_* variables and CUDA_VISIBLE_DEVICES' }]);
      env = parsed.data;
    }
    const cwdProblem = query.data.cwd === undefined ? null : directoryProblem(query.data.cwd);
    if (cwdProblem) return badRequest(res, [{ path: 'cwd', message: cwdProblem }]);
    const resolved = resolveSettings({ cwd: query.data.cwd, env, sidecar: opts.sidecar, paths: opts.paths });
    res.json({ settings: settingsList(resolved), warnings: resolved.warnings });
  });

  router.put('/config', express.json({ limit: '64kb' }), async (req, res, next) => {
    const body = PutConfigRequestSchema.safeParse(req.body ?? {});
    if (!body.success) return badRequest(res, zodIssues(body.error));
    const { key, value, scope, cwd } = body.data;
    if (value === undefined)
      return badRequest(res, [{ path: 'value', message: `a value is required for ${key} (null removes the key)` }]);
    const cwdProblem = cwd === undefined ? null : directoryProblem(cwd);
    if (cwdProblem) return badRequest(res, [{ path: 'cwd', message: cwdProblem }]);
    try {
      const written = await writeSetting({ key, value, scope, cwd, paths: opts.paths });
      const resolved = resolveSettings({ cwd, sidecar: opts.sidecar, paths: opts.paths });
      const setting = settingsList(resolved).find(s => s.key === written.key)!;
      res.json({ setting, written: { scope, path: written.path } });
    } catch (err) {
      if (err instanceof SettingError) return badRequest(res, [{ path: err.key, message: err.detail }]);
      next(err); // the app's handler: 507 naming the cause for a full or read-only disk, else a logged 500
    }
  });

  // Body-parser failures on this router's own JSON parser: the client's mistake, so a 4xx naming it.
  router.use('/config', (err: unknown, _req: Request, res: Response, next: NextFunction) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') {
      return void res.status(413).json({ error: { code: 'payload_too_large', message: 'body larger than 64 kB' } });
    }
    if (type === 'entity.parse.failed') return badRequest(res, [{ path: 'body', message: 'body is not valid JSON' }]);
    next(err);
  });

  return router;
}

/** Why `cwd` cannot be the notebook's directory, or null when it can. */
function directoryProblem(cwd: string): string | null {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(cwd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `${cwd} does not exist`;
    return `${cwd} cannot be read (${code ?? 'error'})`;
  }
  return stat.isDirectory() ? null : `${cwd} is not a directory`;
}

interface Issue {
  path: string;
  message: string;
}

function zodIssues(error: z.ZodError, prefix?: string): Issue[] {
  return error.issues.map(i => ({
    path: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(body)',
    message: i.message,
  }));
}

function badRequest(res: Response, issues: Issue[]): void {
  const first = issues[0]!;
  res.status(400).json({ error: { code: 'bad_request', message: `${first.path}: ${first.message}`, issues } });
}
