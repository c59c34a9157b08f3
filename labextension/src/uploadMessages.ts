/**
 * What the upload flow says to people: the records a selection makes (one per process type,
 * runs named by cell number and label, never by id), duplicates, and the reasons an upload did
 * not go through, in plain words instead of `connect ECONNREFUSED 127.0.0.1:9`.
 *
 * Pure: English source strings with `%1` placeholders, translated by the caller.
 */
import type { IRun, IUpload, TypeProcess } from './types';

export interface IMessage {
  text: string;
  args: (string | number)[];
}

const msg = (text: string, ...args: (string | number)[]): IMessage => ({ text, args });

export interface IRecordGroup {
  typeProcess: TypeProcess;
  runs: IRun[];
  /** `[3] model.fit(…), [5] evaluate` */
  runNames: string;
}

/** `[3] label`, or the label alone for a run outside a notebook cell. */
export function runName(run: IRun, labelOf: (run: IRun) => string): string {
  return run.executionCount === null ? labelOf(run) : `[${run.executionCount}] ${labelOf(run)}`;
}

/** PNAV takes one record per process type: the selection's runs grouped by type, training first. */
export function recordGroups(runs: readonly IRun[], labelOf: (run: IRun) => string): IRecordGroup[] {
  const types: TypeProcess[] = ['training', 'inference'];
  return types
    .map(typeProcess => {
      const chosen = runs.filter(run => run.typeProcess === typeProcess);
      return { typeProcess, runs: chosen, runNames: chosen.map(run => runName(run, labelOf)).join(', ') };
    })
    .filter(group => group.runs.length > 0);
}

/** Replaces run ids in a server message with the runs' names. */
export function nameRuns(message: string, runs: readonly IRun[], labelOf: (run: IRun) => string): string {
  let named = message;
  for (const run of runs) named = named.split(run.id).join(runName(run, labelOf));
  return named;
}

/** "already sent on <date> (sent)": the date in the browser's locale. */
export function duplicateMessage(upload: IUpload, locale?: string): IMessage {
  const when = upload.sentAt ?? upload.createdAt;
  const date = new Date(when).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
  return upload.status === 'sent'
    ? msg('This %1 record was already sent on %2 (%3).', upload.typeProcess, date, upload.status)
    : msg('This %1 record is already queued since %2 (%3).', upload.typeProcess, date, upload.status);
}

/** Why the last attempt did not go through, in words a person can act on. */
export function uploadProblem(upload: Pick<IUpload, 'lastError' | 'lastHttpStatus' | 'endpointUrl'>): IMessage | null {
  const error = upload.lastError;
  if (error === null && upload.lastHttpStatus === null) return null;
  let host = upload.endpointUrl;
  try {
    host = new URL(upload.endpointUrl).host;
  } catch {
    // keep the URL as typed
  }
  const status = upload.lastHttpStatus;
  if (status === 401 || status === 403) {
    return msg('The PNAV server at %1 refused the token (HTTP %2). Check the token and send again.', host, status);
  }
  if (status === 404) {
    return msg('The PNAV server at %1 has no such endpoint (HTTP 404). Check the endpoint URL.', host);
  }
  if (status !== null && status >= 400 && status < 500) {
    return msg('The PNAV server at %1 rejected the record (HTTP %2): %3', host, status, error ?? '');
  }
  if (status !== null && status >= 500) {
    return msg('The PNAV server at %1 had a problem (HTTP %2); it will be tried again.', host, status);
  }
  const text = error ?? '';
  if (text === 'cancelled before it was sent') return msg('Cancelled before it was sent.');
  if (/ECONNREFUSED/.test(text)) {
    return msg('Nothing answers at %1 (connection refused). Check the endpoint URL, or that the server is up.', host);
  }
  if (/ENOTFOUND|EAI_AGAIN/.test(text))
    return msg('The host name in %1 could not be found. Check the endpoint URL.', host);
  if (/timed? ?out|ETIMEDOUT|abort/i.test(text)) return msg('%1 did not answer in time.', host);
  if (/ECONNRESET|EPIPE|socket hang up/.test(text)) return msg('%1 closed the connection.', host);
  if (/certificate|SSL|TLS/i.test(text)) return msg('The secure connection to %1 failed: %2', host, text);
  return msg('%1', text);
}

/** A few words for a notification (JupyterLab cuts toasts at 140 characters); the panel row says the rest. */
export function uploadProblemShort(upload: Pick<IUpload, 'lastError' | 'lastHttpStatus'>): IMessage {
  const status = upload.lastHttpStatus;
  const text = upload.lastError ?? '';
  if (status === 401 || status === 403) return msg('token refused (HTTP %1)', status);
  if (status !== null) return msg('HTTP %1', status);
  if (text === 'cancelled before it was sent') return msg('cancelled');
  if (/ECONNREFUSED/.test(text)) return msg('connection refused');
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) return msg('host not found');
  if (/timed? ?out|ETIMEDOUT|abort/i.test(text)) return msg('no answer in time');
  return msg('network error');
}
