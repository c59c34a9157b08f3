/**
 * The values clients check before they call the API, declared once: the zod schemas here and in
 * `outputs/` are built from them, and `npm run contract -w sidecar` writes them into the lab
 * extension (`labextension/src/generated/`) and the Python package (`pnav_lab/contract.py`),
 * with the OpenAPI types. `contract.test.ts` fails when a written copy is stale.
 */

/** Route prefix of every endpoint. */
export const API_PREFIX = '/api/v1';

/** The WebSocket feed of samples and run events, below API_PREFIX. */
export const STREAM_PATH = `${API_PREFIX}/stream`;

/**
 * Every `error.code` an answer may carry. `too_many_open_runs` (429, with Retry-After): the open-run
 * cap is reached. `storage_unavailable` (507): the data dir cannot be
 * written. `sidecar_unavailable` (502): the Jupyter server's `/pnav/` proxy could not reach the sidecar.
 */
export const ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden_host',
  'forbidden_origin',
  'not_found',
  'payload_too_large',
  'conflict',
  'too_many_open_runs',
  'storage_unavailable',
  'sidecar_unavailable',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const COMPONENTS = ['cpu', 'gpu', 'ram'] as const;
export const TYPE_PROCESSES = ['training', 'inference'] as const;
export const TYPE_RAMS = ['DDR3', 'DDR4', 'DDR5'] as const;
export const CSV_WRITE_MODES = ['append', 'update'] as const;

/** calculadorapnav's checks before it sends: a model id is a 64-character lowercase hex hash. */
export const MODEL_ID_PATTERN = '^[0-9a-f]{64}$';
/** The PNAV token: 64 lowercase hex characters once normalised (`.lower().strip().replace(" ", "")`). */
export const TOKEN_PATTERN = '^[a-f0-9]{64}$';
/** The PNAV endpoint: an http(s) URL. */
export const ENDPOINT_URL_PATTERN = '^https?://';
export const ENDPOINT_URL_MAX_LENGTH = 2048;
/** ISO 3166-1 alpha-3, upper case (the sidecar also refuses codes its carbon dataset lacks). */
export const COUNTRY_ISO3_PATTERN = '^[A-Z]{3}$';

export const PUE_MIN = 1;
export const PUE_MAX = 3;

/** Run labels: `key=value` pairs with these names and sizes, and one free-text label. */
export const LABEL_NAME_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]{0,62}$';
export const LABEL_VALUE_MAX_LENGTH = 200;
export const LABELS_MAX_COUNT = 16;
export const LABEL_TEXT_MAX_LENGTH = 500;

/** Everything above, as the generators write it. */
export const CONTRACT = {
  API_PREFIX,
  STREAM_PATH,
  ERROR_CODES,
  COMPONENTS,
  TYPE_PROCESSES,
  TYPE_RAMS,
  CSV_WRITE_MODES,
  MODEL_ID_PATTERN,
  TOKEN_PATTERN,
  ENDPOINT_URL_PATTERN,
  ENDPOINT_URL_MAX_LENGTH,
  COUNTRY_ISO3_PATTERN,
  PUE_MIN,
  PUE_MAX,
  LABEL_NAME_PATTERN,
  LABEL_VALUE_MAX_LENGTH,
  LABELS_MAX_COUNT,
  LABEL_TEXT_MAX_LENGTH,
} as const;
