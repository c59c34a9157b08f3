/** Validation at the edge: a zod schema either yields typed data or a 400 naming the field. */
import type { z } from 'zod';
import { type ErrorIssue, HttpError } from './errors.js';

/** Parses `value` or throws a 400 `bad_request` whose message is `<field>: <msg>` of the first issue. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where = 'body'): z.infer<S> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issues: ErrorIssue[] = parsed.error.issues.map(issue => ({
    path: issue.path.length > 0 ? issue.path.map(String).join('.') : `(${where})`,
    message: issue.message,
  }));
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  throw new HttpError(400, 'bad_request', `${first.path}: ${first.message}${more}`, issues);
}
