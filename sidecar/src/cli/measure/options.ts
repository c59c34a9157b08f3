/**
 * `pnav measure`'s options, parsed once from commander's raw values and validated with zod;
 * a bad value is reported with the option's name.
 */
import path from 'node:path';
import { z } from 'zod';
import { Iso3Schema } from '../../api/schemas.js';

export const MeasureOptionsSchema = z
  .object({
    notebook: z.string().min(1).endsWith('.ipynb', 'must be a .ipynb file'),
    kernel: z.string().min(1).optional(),
    cwd: z.string().min(1).optional(),
    json: z.string().min(1).optional(),
    csv: z.string().min(1).optional(),
    html: z.string().min(1).optional(),
    executed: z.string().min(1).optional(),
    maxEnergyWh: z.coerce.number().min(0).optional(),
    maxCo2G: z.coerce.number().min(0).optional(),
    country: Iso3Schema.optional(),
    timeoutS: z.coerce.number().positive().optional(),
    serverUrl: z
      .string()
      .regex(/^https?:\/\//, 'must be an http(s) URL')
      .optional(),
    serverToken: z.string().min(1).optional(),
  })
  .refine(o => (o.serverUrl === undefined) === (o.serverToken === undefined), {
    message: '--server-url and --server-token go together',
    path: ['serverToken'],
  });
export type MeasureOptions = z.infer<typeof MeasureOptionsSchema>;

export interface RawMeasureOptions {
  kernel?: string;
  cwd?: string;
  json?: string;
  csv?: string;
  html?: string;
  executed?: string;
  maxEnergyWh?: string;
  maxCo2G?: string;
  country?: string;
  timeout?: string;
  serverUrl?: string;
  serverToken?: string;
}

const OPTION_NAMES: Record<string, string> = {
  notebook: 'NOTEBOOK',
  maxEnergyWh: '--max-energy-wh',
  maxCo2G: '--max-co2-g',
  timeoutS: '--timeout',
  serverUrl: '--server-url',
  serverToken: '--server-token',
};

export class MeasureOptionsError extends Error {}

export function parseMeasureOptions(notebook: string, raw: RawMeasureOptions): MeasureOptions {
  const parsed = MeasureOptionsSchema.safeParse({
    ...raw,
    notebook,
    timeout: undefined,
    timeoutS: raw.timeout,
    country: raw.country?.toUpperCase(),
    // The token may come from the environment, so it never shows up in `ps`.
    serverToken: raw.serverToken ?? (raw.serverUrl ? process.env.JUPYTER_TOKEN : undefined),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]);
    throw new MeasureOptionsError(`${OPTION_NAMES[key] ?? `--${key}`}: ${issue.message}`);
  }
  // --cwd stays as given: with --server-url it is a path on that server, relative to its root.
  return { ...parsed.data, notebook: path.resolve(parsed.data.notebook) };
}
