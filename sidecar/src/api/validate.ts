/** Validation at the edge: a zod schema either yields typed data or a 400 naming the field. */
import type { z } from 'zod';
import { type ErrorIssue, HttpError } from './errors.js';

/** Parses `value` or throws a 400 `bad_request` whose message is `<field>: <msg>` of the first issue. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where = 'body'): z.infer<S> {
  // No body at all is an empty object; a body that is JSON but not an object (null, [], 1) is refused.
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new HttpError(400, 'bad_request', `${where}: expected an object`, [
      { path: `(${where})`, message: 'expected an object' },
    ]);
  }
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issues: ErrorIssue[] = parsed.error.issues.flatMap(toErrorIssues(where));
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  throw new HttpError(400, 'bad_request', `${first.path}: ${first.message}${more}`, issues);
}

/** One issue per field: a strict object's unknown keys become `<key>: unknown field` each. */
function toErrorIssues(where: string): (issue: z.core.$ZodIssue) => ErrorIssue[] {
  return issue => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map(key => ({ path: [...issue.path, key].map(String).join('.'), message: 'unknown field' }));
    }
    return [{ path: issue.path.length > 0 ? issue.path.map(String).join('.') : `(${where})`, message: issue.message }];
  };
}
