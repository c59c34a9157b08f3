/**
 * Checks of the upload form, as calculadorapnav does them before sending.
 *
 * - token: normalised with `.lower().strip().replace(" ", "")`, then `[a-f0-9]{64}`
 *   (calculadorapnav `core/util.py: hash_token_validate`);
 * - model id: exactly 64 lowercase hexadecimal characters, no normalisation
 *   (pydantic `EmissionsInputModel`, online mode);
 * - endpoint: an http(s) URL (pydantic requires a string starting with "http").
 *
 * Messages are English source strings; the UI passes them through the translator.
 */

import { ENDPOINT_URL_MAX_LENGTH, ENDPOINT_URL_PATTERN, MODEL_ID_PATTERN, TOKEN_PATTERN } from './generated/contract';

export type Validated = { ok: true; value: string } | { ok: false; message: string };

// The sidecar's own patterns (generated from its contract): what passes here passes there.
const TOKEN = new RegExp(TOKEN_PATTERN);
const MODEL_ID = new RegExp(MODEL_ID_PATTERN);
const ENDPOINT_URL = new RegExp(ENDPOINT_URL_PATTERN, 'i');

/** calculadorapnav's normalisation of a typed token: lower case, trimmed, spaces removed. */
export function normalizeToken(raw: string): string {
  return raw.toLowerCase().trim().replace(/ /g, '');
}

export function validateToken(raw: string): Validated {
  const value = normalizeToken(raw);
  if (value === '') {
    return { ok: false, message: 'The token is required.' };
  }
  return TOKEN.test(value)
    ? { ok: true, value }
    : { ok: false, message: 'The token must be a 64-character hexadecimal string.' };
}

export function validateModelId(raw: string): Validated {
  const value = raw.trim();
  if (value === '') {
    return { ok: false, message: 'The model id is required.' };
  }
  return MODEL_ID.test(value)
    ? { ok: true, value }
    : { ok: false, message: 'The model id must be 64 lowercase hexadecimal characters.' };
}

export function validateEndpointUrl(raw: string): Validated {
  const value = raw.trim();
  if (!ENDPOINT_URL.test(value)) {
    return { ok: false, message: 'The endpoint must be an http(s) URL.' };
  }
  if (value.length > ENDPOINT_URL_MAX_LENGTH) {
    return { ok: false, message: `The endpoint URL must be at most ${ENDPOINT_URL_MAX_LENGTH} characters.` };
  }
  try {
    const url = new URL(value);
    return url.hostname === '' ? { ok: false, message: 'The endpoint URL has no host.' } : { ok: true, value };
  } catch {
    return { ok: false, message: 'The endpoint URL is not valid.' };
  }
}

export interface IUploadForm {
  token: string;
  modelId: string;
  endpointUrl: string;
}

export type UploadFormErrors = Partial<Record<keyof IUploadForm, string>>;

/** Every field checked at once, so the form can show all problems together. */
export function validateUploadForm(
  form: IUploadForm,
): { ok: true; value: IUploadForm } | { ok: false; errors: UploadFormErrors } {
  const token = validateToken(form.token);
  const modelId = validateModelId(form.modelId);
  const endpointUrl = validateEndpointUrl(form.endpointUrl);
  if (token.ok && modelId.ok && endpointUrl.ok) {
    return { ok: true, value: { token: token.value, modelId: modelId.value, endpointUrl: endpointUrl.value } };
  }
  const errors: UploadFormErrors = {};
  if (!token.ok) errors.token = token.message;
  if (!modelId.ok) errors.modelId = modelId.message;
  if (!endpointUrl.ok) errors.endpointUrl = endpointUrl.message;
  return { ok: false, errors };
}
