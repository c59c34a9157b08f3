/** The one error envelope of the API: `{error: {code, message, issues?}}`. */

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden_host'
  | 'forbidden_origin'
  | 'not_found'
  | 'payload_too_large'
  | 'conflict'
  | 'internal';

export interface ErrorIssue {
  path: string;
  message: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly issues?: ErrorIssue[],
  ) {
    super(message);
  }

  toBody(): { error: { code: ErrorCode; message: string; issues?: ErrorIssue[] } } {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }
}
