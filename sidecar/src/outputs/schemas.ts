/**
 * Wire shapes of the PNAV outputs: the routes under /api/v1 (exports, previews,
 * uploads) and the calculadorapnav record itself (also what `pnav mock-pnav` accepts).
 */
import { z } from 'zod';
import { TypeProcessSchema } from '../api/schemas.js';
import { PNAV_COLUMNS } from './csv/columns.js';
import { EndpointUrlSchema, refuseInsecureEndpoint, TokenSchema } from './validate.js';

const RunIdsSchema = z.array(z.string().min(1).max(200)).min(1).max(10_000);
const NotebookPathSchema = z.string().min(1).max(4096);

const selectionRefinement = {
  message: 'give runIds or notebookPath',
  path: ['runIds'],
};
function hasSelection(body: { runIds?: string[]; notebookPath?: string }): boolean {
  return body.runIds !== undefined || body.notebookPath !== undefined;
}

export const ExportRequestSchema = z
  .strictObject({
    format: z.enum(['csv', 'json', 'boamps']),
    runIds: RunIdsSchema.optional(),
    notebookPath: NotebookPathSchema.optional(),
    typeProcess: TypeProcessSchema.optional(),
    /** csv/json: one record per type_process instead of one per run (BoAmps always aggregates). */
    aggregate: z.boolean().default(false),
    /** Include failed and interrupted runs (left out by default: the PNAV columns carry no status). */
    recordFailed: z.boolean().default(false),
  })
  .refine(hasSelection, selectionRefinement);
export type ExportRequest = z.infer<typeof ExportRequestSchema>;

export const PreviewRequestSchema = z
  .strictObject({
    runIds: RunIdsSchema.optional(),
    notebookPath: NotebookPathSchema.optional(),
    typeProcess: TypeProcessSchema,
    modelId: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hexadecimal characters')
      .optional(),
    /** Include failed and interrupted runs (left out by default: the PNAV columns carry no status). */
    recordFailed: z.boolean().default(false),
  })
  .refine(hasSelection, selectionRefinement);

export const UploadRequestSchema = z
  .strictObject({
    endpointUrl: EndpointUrlSchema,
    token: TokenSchema,
    modelId: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hexadecimal characters'),
    runIds: RunIdsSchema.optional(),
    notebookPath: NotebookPathSchema.optional(),
    typeProcess: TypeProcessSchema,
    /** Send even when the same record already went to the same place (a deliberate second submission). */
    resend: z.boolean().optional(),
    /** Include failed and interrupted runs (left out by default: the PNAV columns carry no status). */
    recordFailed: z.boolean().default(false),
    /** Send the token over plain http:// to a host that is not loopback (it travels in clear). */
    allowInsecureEndpoint: z.boolean().optional(),
  })
  .refine(hasSelection, selectionRefinement)
  .superRefine(refuseInsecureEndpoint);

/** `POST /uploads/{id}/retry`: a failed upload forgot its token, so it needs it again; a retrying one does not. */
export const RetryUploadRequestSchema = z.strictObject({ token: TokenSchema.optional() });

export const UploadsQuerySchema = z.object({
  notebookPath: NotebookPathSchema.optional(),
});

/** Long-poll of one upload: answer once its status leaves queued/sending, or after waitMs. */
export const UploadWaitQuerySchema = z.object({
  waitMs: z.coerce.number().int().min(0).max(600_000).optional(),
});

/**
 * `uncertain`: an attempt got no answer in time, so the server may or may not have the record; it is
 * retried with the same Idempotency-Key until an attempt is answered (then `sent` or `failed`).
 */
export const UploadStatusSchema = z.enum(['queued', 'sending', 'sent', 'retrying', 'uncertain', 'failed']);
export type UploadStatus = z.infer<typeof UploadStatusSchema>;

/** One queued submission as clients see it: never the token. */
export const UploadSchema = z.object({
  id: z.string(),
  status: UploadStatusSchema,
  endpointUrl: z.string(),
  modelId: z.string(),
  typeProcess: TypeProcessSchema,
  notebookPath: z.string().nullable(),
  runIds: z.array(z.string()),
  /** Same across retries; the PNAV server can deduplicate on it. */
  idempotencyKey: z.string(),
  attempts: z.number().int(),
  /** The server's message (truncated) or the network error of the last failed attempt. */
  lastError: z.string().nullable(),
  lastHttpStatus: z.number().int().nullable(),
  nextAttemptAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  sentAt: z.string().nullable(),
  /** What to do about a final failure (a 4xx: the token, the model id, the endpoint), else null. */
  fix: z.string().nullable().optional(),
});
export type Upload = z.infer<typeof UploadSchema>;

const nullableNumber = z.number().nullable();
const nullableString = z.string().nullable();

/** The calculadorapnav record: 40 keys (the submission body; the preview). */
export const PnavRecordSchema = z.object({
  timestamp: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/, 'must be %Y-%m-%dT%H:%M:%S'),
  type_process: TypeProcessSchema,
  model_id: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hexadecimal characters'),
  ref: nullableNumber,
  duration: z.number(),
  emissions: z.number(),
  emissions_rate: z.number(),
  emissions_batch: z.number(),
  emissions_epoch: z.number(),
  cpu_power: z.number(),
  gpu_power: z.number(),
  ram_power: z.number(),
  cpu_energy: z.number(),
  gpu_energy: z.number(),
  ram_energy: z.number(),
  energy_consumed: z.number(),
  energy_batch: z.number(),
  n_batch: z.number().int(),
  time_batch: z.number(),
  energy_epoch: z.number(),
  n_epoch: z.number().int(),
  time_epoch: z.number(),
  model_size: z.enum(['small', 'medium', 'large']),
  n_parameters: z.number().int(),
  n_features: z.union([z.number(), z.array(z.number()), z.array(z.array(z.number()))]),
  country_name: nullableString,
  country_iso_code: nullableString,
  region: nullableString,
  cloud_provider: nullableString,
  cloud_region: nullableString,
  os: nullableString,
  python_version: nullableString,
  cpu_count: nullableNumber,
  cpu_model: nullableString,
  gpu_count: nullableNumber,
  gpu_model: nullableString,
  ram_total_size: nullableNumber,
  type_ram: z.string(),
  on_cloud: z.enum(['Y', 'N']),
  pue: z.number(),
});

/** A preview also carries the record's model_id as null when none was given. */
export const PreviewRecordSchema = PnavRecordSchema.extend({ model_id: nullableString });

/** Key order matters to calculadorapnav's readers: the keys must be exactly the 40 columns, in order. */
export function keyOrderIssue(body: object): string | null {
  const keys = Object.keys(body);
  if (keys.length === PNAV_COLUMNS.length && keys.every((key, i) => key === PNAV_COLUMNS[i])) return null;
  const missing = PNAV_COLUMNS.filter(c => !keys.includes(c));
  const extra = keys.filter(k => !(PNAV_COLUMNS as readonly string[]).includes(k));
  if (missing.length > 0) return `missing keys: ${missing.join(', ')}`;
  if (extra.length > 0) return `unexpected keys: ${extra.join(', ')}`;
  return 'keys must follow calculadorapnav column order (timestamp, type_process, model_id, …, on_cloud, pue)';
}

export const ExportFormatContentType = {
  csv: 'text/csv; charset=utf-8',
  json: 'application/json; charset=utf-8',
  boamps: 'application/json; charset=utf-8',
} as const;
