/**
 * The OpenAPI 3.1 description of the API, generated from the same zod schemas that validate requests.
 * Every route the app serves is listed (openapi.test.ts checks it against express's own table): a
 * fuzzer generates requests from this document. Loaded on the first GET /openapi.json only, so the
 * generator and its zod extension cost nothing to a sidecar nobody asks.
 */
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  API_PREFIX,
  CloseEpochRequestSchema,
  CloseRunRequestSchema,
  CloseRunResponseSchema,
  ConfigQuerySchema,
  ConfigResponseSchema,
  CountBatchesRequestSchema,
  EpochSchema,
  ErrorResponseSchema,
  ListRunsQuerySchema,
  LocationSchema,
  OpenEpochRequestSchema,
  OpenRunRequestSchema,
  PatchRunRequestSchema,
  PutConfigRequestSchema,
  PutConfigResponseSchema,
  RunSchema,
  SampleSchema,
  SamplesQuerySchema,
  SourceInfoSchema,
  StatusSchema,
  StreamMessageSchema,
} from '../api/schemas.js';
import * as outputSchemas from '../outputs/schemas.js';

// registry.register() names schemas through the `.openapi()` method this adds to zod. zod 4 gives
// instances their methods when they are built, so schemas built before this line (all of
// api/schemas.ts) are cloned, through `c()`, before the generator sees them.
extendZodWithOpenApi(z);
const c = <S extends z.ZodType>(schema: S): S => schema.clone() as S;

type Method = 'get' | 'post' | 'patch' | 'put';

export async function buildOpenApi(version: string): Promise<object> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  const Run = registry.register('Run', c(RunSchema));
  const Epoch = registry.register('Epoch', c(EpochSchema));
  const Status = registry.register('Status', c(StatusSchema));
  const Sample = registry.register('Sample', c(SampleSchema));
  const SourceInfo = registry.register('SourceInfo', c(SourceInfoSchema));
  const ErrorResponse = registry.register('Error', c(ErrorResponseSchema));
  registry.register('StreamMessage', c(StreamMessageSchema));
  const runParams = z.object({ id: z.string() });
  const epochParams = z.object({ id: z.string(), index: z.string().regex(/^\d+$/) });

  const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
  const errors = {
    400: { description: 'Bad request: the message names the field', ...json(ErrorResponse) },
    401: { description: 'Missing or wrong bearer token', ...json(ErrorResponse) },
    403: { description: 'Host or Origin is not this loopback sidecar', ...json(ErrorResponse) },
    404: { description: 'Unknown run, epoch, upload or route', ...json(ErrorResponse) },
    413: { description: 'Body larger than the limit', ...json(ErrorResponse) },
  };
  // Routes that write to the data directory: a full disk or a read-only mount is said plainly.
  const storage = {
    507: {
      description:
        'storage_unavailable: the data directory cannot be written (ENOSPC, EDQUOT, EROFS, EIO or EACCES, named in the message)',
      ...json(ErrorResponse),
    },
  };
  const conflict = {
    409: {
      description: 'Conflict: the run is not open, the epoch exists, or runs are still open',
      ...json(ErrorResponse),
    },
  };
  const tooMany = {
    429: {
      description:
        'too_many_open_runs: the open-run cap (--max-open-runs, --max-open-runs-per-kernel) is reached; Retry-After says when to try again',
      headers: { 'Retry-After': { description: 'Seconds', schema: { type: 'integer' as const } } },
      ...json(ErrorResponse),
    },
  };
  const add: AddPath = (method: Method, path: string, summary: string, ok, request = {}) => {
    const okResponse = 'schema' in ok ? { description: 'OK', ...json(ok.schema) } : ok.response;
    registry.registerPath({
      method,
      path,
      summary,
      security: [{ bearer: [] }],
      request: {
        ...(request.body ? { body: { content: { 'application/json': { schema: request.body } } } } : {}),
        ...(request.query ? { query: request.query } : {}),
        ...(request.params ? { params: request.params } : {}),
      },
      responses: {
        [ok.status]: okResponse,
        ...errors,
        ...(request.conflict ? conflict : {}),
        ...(request.tooMany ? tooMany : {}),
        ...(method === 'get' ? {} : storage),
      },
    });
  };

  add(
    'get',
    '/healthz',
    "Liveness. With ?challenge=<32..128 hex> it needs no token and answers proof = hex HMAC-SHA256(token, 'pnav-sidecar-healthz:' + challenge): clients check it before sending the token",
    { status: 200, schema: z.object({ ok: z.literal(true), version: z.string(), proof: z.string().optional() }) },
    {
      query: z.object({
        challenge: z
          .string()
          .regex(/^[0-9a-f]{32,128}$/)
          .optional(),
      }),
    },
  );
  add('get', '/metrics', 'Prometheus text exposition (the token is not needed with --metrics-public)', {
    status: 200,
    response: { description: 'Prometheus metrics', content: { 'text/plain': { schema: z.string() } } },
  });
  add('get', `${API_PREFIX}/openapi.json`, 'This description', {
    status: 200,
    schema: z.object({ openapi: z.string() }).catchall(z.unknown()),
  });
  add('get', `${API_PREFIX}/status`, 'Sources, methods, location and hardware', { status: 200, schema: Status });
  add('get', `${API_PREFIX}/doctor`, 'Every power source candidate, with the fix when unavailable', {
    status: 200,
    schema: z.object({ sources: z.array(SourceInfo), measuredAvailable: z.boolean() }),
  });
  add(
    'post',
    `${API_PREFIX}/runs`,
    'Open a run',
    { status: 201, schema: z.object({ run: Run }) },
    { body: c(OpenRunRequestSchema), tooMany: true },
  );
  add(
    'get',
    `${API_PREFIX}/runs`,
    'List runs, newest first',
    { status: 200, schema: z.object({ runs: z.array(Run) }) },
    { query: c(ListRunsQuerySchema) },
  );
  add(
    'get',
    `${API_PREFIX}/runs/{id}`,
    'One run (live figures when open)',
    { status: 200, schema: z.object({ run: Run }) },
    { params: runParams },
  );
  add(
    'patch',
    `${API_PREFIX}/runs/{id}`,
    'Update label, counts or model facts',
    { status: 200, schema: z.object({ run: Run }) },
    { params: runParams, body: c(PatchRunRequestSchema) },
  );
  add(
    'post',
    `${API_PREFIX}/runs/{id}/close`,
    'Close a run (closing twice is harmless)',
    { status: 200, schema: c(CloseRunResponseSchema) },
    { params: runParams, body: c(CloseRunRequestSchema) },
  );
  add(
    'post',
    `${API_PREFIX}/runs/{id}/epochs`,
    'Open an epoch',
    { status: 201, schema: z.object({ epoch: Epoch }) },
    { params: runParams, body: c(OpenEpochRequestSchema), conflict: true },
  );
  add(
    'post',
    `${API_PREFIX}/runs/{id}/epochs/{index}/close`,
    'Close an epoch',
    { status: 200, schema: z.object({ epoch: Epoch }) },
    { params: epochParams, body: c(CloseEpochRequestSchema) },
  );
  add(
    'post',
    `${API_PREFIX}/runs/{id}/batches`,
    'Count batches',
    { status: 200, schema: z.object({ run: Run }) },
    { params: runParams, body: c(CountBatchesRequestSchema), conflict: true },
  );
  add(
    'get',
    `${API_PREFIX}/samples`,
    'Bounded, downsampled power history',
    { status: 200, schema: z.object({ samples: z.array(Sample) }) },
    { query: c(SamplesQuerySchema) },
  );

  add(
    'get',
    `${API_PREFIX}/config`,
    'Every effective setting with its source (for a notebook directory and a client environment)',
    { status: 200, schema: c(ConfigResponseSchema) },
    { query: c(ConfigQuerySchema) },
  );
  add(
    'put',
    `${API_PREFIX}/config`,
    'Write one setting to the user or project file (null removes it)',
    { status: 200, schema: c(PutConfigResponseSchema) },
    { body: c(PutConfigRequestSchema) },
  );
  addOutputs(add);

  const generator = new OpenApiGeneratorV31(registry.definitions);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'PNAV Lab sidecar',
      version,
      description: `Loopback API of the PNAV Lab sidecar. WebSocket stream of StreamMessage frames at ${API_PREFIX}/stream.`,
    },
    servers: [{ url: '/' }],
  });
}

type AddPath = (
  method: Method,
  path: string,
  summary: string,
  ok: { status: number; schema: z.ZodType } | { status: number; response: object },
  /** `conflict`: the route answers 409 (see `conflict` above). */
  request?: { body?: z.ZodType; query?: z.ZodObject; params?: z.ZodObject; conflict?: boolean; tooMany?: boolean },
) => void;

/** The PNAV outputs routes (src/outputs/router.ts), from that module's own schemas. */
function addOutputs(add: AddPath): void {
  const Upload = c(outputSchemas.UploadSchema);
  const uploadParams = z.object({ id: z.string() });
  add(
    'post',
    `${API_PREFIX}/exports`,
    'PNAV CSV, calculadorapnav JSON or a BoAmps report of closed runs, as a file',
    {
      status: 200,
      response: {
        description:
          'The file (Content-Disposition: attachment): CSV for csv; a JSON array for json; a JSON object for boamps',
        content: {
          'text/csv': { schema: z.string() },
          'application/json': {
            schema: z.union([z.array(z.record(z.string(), z.unknown())), z.record(z.string(), z.unknown())]),
          },
        },
      },
    },
    { body: c(outputSchemas.ExportRequestSchema), conflict: true },
  );
  add(
    'post',
    `${API_PREFIX}/records/preview`,
    'The calculadorapnav record (40 keys, in order) that an upload of these runs would send',
    {
      status: 200,
      schema: z.object({
        record: c(outputSchemas.PreviewRecordSchema),
        runIds: z.array(z.string()),
        /** Failed or interrupted runs of the selection left out (recordFailed includes them). */
        excludedRunIds: z.array(z.string()),
        /** The record's country, where it came from, and the factors of its figures. */
        location: c(LocationSchema),
      }),
    },
    { body: c(outputSchemas.PreviewRequestSchema), conflict: true },
  );
  add(
    'post',
    `${API_PREFIX}/uploads`,
    'Queue a PNAV submission of these runs (durable outbox, retried); the same record already queued or sent answers 200 with duplicate: true unless resend is set',
    {
      status: 202,
      schema: z.object({ uploads: z.array(Upload), duplicate: z.boolean(), excludedRunIds: z.array(z.string()) }),
    },
    { body: c(outputSchemas.UploadRequestSchema), conflict: true },
  );
  add(
    'post',
    `${API_PREFIX}/uploads/{id}/cancel`,
    'Stop a queued or retrying submission before it is sent (it ends failed)',
    { status: 200, schema: z.object({ upload: Upload }) },
    { params: uploadParams, conflict: true },
  );
  add(
    'post',
    `${API_PREFIX}/uploads/{id}/retry`,
    'Send a retrying submission now, or a failed one again (token required then)',
    { status: 200, schema: z.object({ upload: Upload }) },
    { params: uploadParams, body: c(outputSchemas.RetryUploadRequestSchema), conflict: true },
  );
  add(
    'get',
    `${API_PREFIX}/uploads`,
    'Queued and past submissions, newest first',
    { status: 200, schema: z.object({ uploads: z.array(Upload) }) },
    { query: c(outputSchemas.UploadsQuerySchema) },
  );
  add(
    'get',
    `${API_PREFIX}/uploads/{id}`,
    'One submission; with waitMs, answered once it has its first outcome (sent, failed, retrying, uncertain)',
    { status: 200, schema: z.object({ upload: Upload }) },
    { params: uploadParams, query: c(outputSchemas.UploadWaitQuerySchema) },
  );
}
