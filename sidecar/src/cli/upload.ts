/**
 * `pnav upload`: notebook-to-PNAV from the command line. Builds one record from a notebook's
 * runs through the running sidecar (env PNAV_SIDECAR_URL + PNAV_SIDECAR_TOKEN, else the
 * runtime file), shows the preview, queues it in the sidecar's outbox; `--status` lists uploads.
 * The PNAV token is read from --token or, better (not visible in `ps`), env PNAV_TOKEN.
 */
import type { Command } from 'commander';
import { API_PREFIX, type Location } from '../api/schemas.js';
import { PNAV_COLUMNS } from '../outputs/csv/columns.js';
import type { Upload } from '../outputs/schemas.js';
import { findRunningSidecar } from './measure/sidecar-ensure.js';

interface UploadOptions {
  notebook?: string;
  run?: string[];
  type: string;
  endpoint?: string;
  allowInsecureEndpoint?: boolean;
  modelId?: string;
  token?: string;
  previewOnly?: boolean;
  status?: boolean | string;
  wait?: string;
  json?: boolean;
  recordFailed?: boolean;
}

class CliError extends Error {}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const refused: string[] = [];
  const sidecar = await findRunningSidecar(process.env, why => refused.push(why));
  if (!sidecar) {
    throw new CliError(
      `no running sidecar found (start Jupyter with PNAV Lab, or \`pnav sidecar\`, or set PNAV_SIDECAR_URL and PNAV_SIDECAR_TOKEN)${refused.map(r => `; ${r}`).join('')}`,
    );
  }
  const response = await fetch(`${sidecar.access.baseUrl}${API_PREFIX}${path}`, {
    method,
    headers: { Authorization: sidecar.access.authorization, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const payload = (await response.json().catch(() => ({}))) as T & { error?: { message?: string } };
  if (!response.ok) throw new CliError(payload.error?.message ?? `HTTP ${response.status}`);
  return payload;
}

function formatUpload(u: Upload): string {
  const pending = u.status === 'retrying' || u.status === 'uncertain';
  const next = pending && u.nextAttemptAt ? `, next attempt ${u.nextAttemptAt}` : '';
  const error = u.lastError ? `\n    ${u.lastError}` : '';
  const fix = u.fix ? `\n    to fix: ${u.fix}` : '';
  return `${u.id}  ${u.status.padEnd(9)}  ${u.typeProcess}  ${u.runIds.length} run(s)  attempts ${u.attempts}${next}  ${u.endpointUrl}${error}${fix}\n`;
}

function formatLocation(location: Location | undefined): string {
  if (!location) return '';
  return `country ${location.countryIso3} ${location.countryName} (from: ${location.countrySource}), ${location.intensityGPerKWh} g CO2eq/kWh: ${location.intensitySource}\n`;
}

function formatRecord(record: Record<string, unknown>): string {
  const width = Math.max(...PNAV_COLUMNS.map(c => c.length));
  return PNAV_COLUMNS.map(c => `  ${c.padEnd(width)}  ${JSON.stringify(record[c])}\n`).join('');
}

async function run(opts: UploadOptions): Promise<void> {
  const out = (text: string) => process.stdout.write(text);
  if (opts.status !== undefined && opts.status !== false) {
    if (typeof opts.status === 'string') {
      const { upload } = await call<{ upload: Upload }>('GET', `/uploads/${encodeURIComponent(opts.status)}`);
      out(opts.json ? `${JSON.stringify(upload, null, 2)}\n` : formatUpload(upload));
      return;
    }
    const query = opts.notebook ? `?notebookPath=${encodeURIComponent(opts.notebook)}` : '';
    const { uploads } = await call<{ uploads: Upload[] }>('GET', `/uploads${query}`);
    out(opts.json ? `${JSON.stringify(uploads, null, 2)}\n` : uploads.map(formatUpload).join('') || 'no uploads\n');
    return;
  }
  if (!opts.notebook && !opts.run?.length) throw new CliError('give --notebook PATH or --run ID (repeatable)');
  const selection = {
    notebookPath: opts.notebook,
    runIds: opts.run?.length ? opts.run : undefined,
    typeProcess: opts.type,
    recordFailed: opts.recordFailed === true,
  };
  const preview = await call<{
    record: Record<string, unknown>;
    runIds: string[];
    excludedRunIds?: string[];
    location?: Location;
  }>('POST', '/records/preview', { ...selection, modelId: opts.modelId });
  if (!opts.json) {
    out(`PNAV record from ${preview.runIds.length} ${opts.type} run(s):\n${formatLocation(preview.location)}`);
    if (preview.excludedRunIds?.length) {
      out(
        `left out ${preview.excludedRunIds.length} failed or interrupted run(s): ${preview.excludedRunIds.join(', ')} (--record-failed includes them)\n`,
      );
    }
    out(formatRecord(preview.record));
  }
  if (opts.previewOnly) {
    if (opts.json) out(`${JSON.stringify(preview, null, 2)}\n`);
    return;
  }
  const token = opts.token ?? process.env.PNAV_TOKEN;
  if (!opts.endpoint || !opts.modelId || !token) {
    throw new CliError('to submit, give --endpoint URL, --model-id HEX and the token (env PNAV_TOKEN or --token)');
  }
  const { uploads } = await call<{ uploads: Upload[] }>('POST', '/uploads', {
    ...selection,
    endpointUrl: opts.endpoint,
    ...(opts.allowInsecureEndpoint ? { allowInsecureEndpoint: true } : {}),
    modelId: opts.modelId,
    token,
  });
  // The first outcome (delivered, rejected, queued for retry, uncertain), as calculadorapnav's synchronous POST
  // reports it; --wait N waits longer, for delivery through the retries.
  const firstMs = Math.max(12_000, Number(opts.wait ?? 0) * 1000);
  let upload = (await call<{ upload: Upload }>('GET', `/uploads/${uploads[0].id}?waitMs=${firstMs}`)).upload;
  const deadline = Date.now() + Number(opts.wait ?? 0) * 1000;
  while (upload.status !== 'sent' && upload.status !== 'failed' && upload.nextAttemptAt && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 250));
    upload = (await call<{ upload: Upload }>('GET', `/uploads/${upload.id}`)).upload;
  }
  out(opts.json ? `${JSON.stringify(upload, null, 2)}\n` : formatUpload(upload));
  if (upload.status === 'failed') process.exitCode = 1;
}

export function register(program: Command): void {
  program
    .command('upload')
    .description("build a PNAV record from a notebook's runs, preview it and submit it through the sidecar's outbox")
    .option('--notebook <path>', 'notebook path as the runs recorded it')
    .option('--run <id>', 'a run id (repeatable) instead of the whole notebook', (v: string, acc: string[] = []) => [
      ...acc,
      v,
    ])
    .option('--type <typeProcess>', 'training or inference', 'training')
    .option('--endpoint <url>', 'the PNAV API endpoint URL (used exactly as given)')
    .option('--allow-insecure-endpoint', 'allow an http:// endpoint that is not loopback (the token travels in clear)')
    .option('--model-id <hex>', 'PNAV model id, 64 lowercase hex')
    .option('--token <hex>', 'PNAV token (prefer env PNAV_TOKEN: argv is visible to other users)')
    .option('--preview-only', 'show the record and stop')
    .option(
      '--record-failed',
      'include failed and interrupted runs (left out by default: the record carries no status)',
    )
    .option('--wait <seconds>', 'wait up to this long for the upload to be sent', '0')
    .option('--status [uploadId]', 'show uploads (of --notebook, or one by id) and exit')
    .option('--json', 'machine-readable output')
    .action(async (opts: UploadOptions) => {
      try {
        await run(opts);
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        process.stderr.write(`pnav upload: ${error.message}\n`);
        process.exitCode = 2;
      }
    });
}
