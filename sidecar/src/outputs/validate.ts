/**
 * What calculadorapnav checks before it sends (token normalisation and format, model id, endpoint), checked here before
 * anything is queued. Messages name the field and never echo the token.
 */
import { z } from 'zod';
import { ENDPOINT_URL_MAX_LENGTH, TOKEN_PATTERN as TOKEN_PATTERN_SOURCE } from '../api/contract.js';
import { ModelIdSchema } from '../api/schemas.js';

/** calculadorapnav's normalisation of prompted tokens: `.lower().strip().replace(" ", "")`. */
export function normaliseToken(raw: string): string {
  return raw.toLowerCase().trim().replaceAll(' ', '');
}

export const TOKEN_PATTERN = new RegExp(TOKEN_PATTERN_SOURCE);

/** The PNAV token: 64 hexadecimal characters once normalised. Parsing yields the normalised form. */
export const TokenSchema = z
  .string({ error: 'is required: the PNAV token, 64 hexadecimal characters' })
  .transform(normaliseToken)
  .refine(token => TOKEN_PATTERN.test(token), {
    message: 'must be 64 hexadecimal characters (upper case and spaces are normalised)',
  });

export const EndpointUrlSchema = z
  .string({ error: 'is required: the full URL of the PNAV API endpoint' })
  .max(ENDPOINT_URL_MAX_LENGTH, `must be at most ${ENDPOINT_URL_MAX_LENGTH} characters`)
  .refine(
    url => {
      try {
        const parsed = new URL(url);
        return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.hostname !== '';
      } catch {
        return false;
      }
    },
    { message: 'must be an http:// or https:// URL' },
  );

/**
 * Why sending the token to `url` would expose it, or null: plain http:// carries the Bearer token in
 * clear to anything on the path, so only loopback (a local test server, a tunnel's local end) may
 * use it unless the user said so explicitly.
 */
export function insecureEndpointProblem(url: string, allowInsecure: boolean | undefined): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null; // the URL rule reports it
  }
  if (parsed.protocol !== 'http:' || allowInsecure) return null;
  const host = parsed.hostname.toLowerCase();
  if (host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) return null;
  return (
    'must be https://: over http:// the PNAV token would travel in clear to ' +
    `${parsed.host} (only loopback addresses may use http://, unless you pass --allow-insecure-endpoint / allowInsecureEndpoint)`
  );
}

/** Adds the http:// refusal to an object schema with `endpointUrl` and an optional `allowInsecureEndpoint`. */
export function refuseInsecureEndpoint(
  value: { endpointUrl: string; allowInsecureEndpoint?: boolean },
  ctx: z.RefinementCtx,
): void {
  const problem = insecureEndpointProblem(value.endpointUrl, value.allowInsecureEndpoint);
  if (problem) ctx.addIssue({ code: 'custom', path: ['endpointUrl'], message: problem });
}

export const SubmitTargetSchema = z
  .object({
    endpointUrl: EndpointUrlSchema,
    token: TokenSchema,
    modelId: ModelIdSchema,
    allowInsecureEndpoint: z.boolean().optional(),
  })
  .superRefine(refuseInsecureEndpoint);
export type SubmitTarget = z.infer<typeof SubmitTargetSchema>;

export interface FieldIssue {
  path: string;
  message: string;
}

/** zod issues → `{path, message}` without inputs: a rejected token is never repeated back. */
export function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map(issue => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
}

/** "token: must be …; modelId: must be …" */
export function describeIssues(issues: FieldIssue[]): string {
  return issues.map(issue => `${issue.path}: ${issue.message}`).join('; ');
}

export class SubmitValidationError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(`invalid PNAV submission: ${describeIssues(issues)}`);
    this.name = 'SubmitValidationError';
  }
}

/** Validates and normalises a submission target, or throws naming the wrong fields. */
export function parseSubmitTarget(input: unknown): SubmitTarget {
  const result = SubmitTargetSchema.safeParse(input);
  if (!result.success) throw new SubmitValidationError(issuesOf(result.error));
  return result.data;
}
