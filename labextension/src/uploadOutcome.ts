/**
 * The first outcome of a PNAV submission in one notification line: delivered, rejected with the
 * server's message and what to fix, or still pending (retrying or uncertain) with its outbox id.
 */
import type { ITrans } from './trans';
import type { IUpload } from './types';

export interface IOutcomeNote {
  kind: 'success' | 'error' | 'warning' | 'info';
  text: string;
}

export function outcomeNote(upload: IUpload, trans: ITrans): IOutcomeNote {
  const error = upload.lastError ?? '';
  switch (upload.status) {
    case 'sent':
      return { kind: 'success', text: trans.__('PNAV submission %1 delivered.', upload.id) };
    case 'failed':
      return {
        kind: 'error',
        text: upload.fix
          ? trans.__('PNAV submission %1 rejected: %2. To fix: %3.', upload.id, error, upload.fix)
          : trans.__('PNAV submission %1 rejected: %2.', upload.id, error),
      };
    case 'uncertain':
      return {
        kind: 'warning',
        text: trans.__('PNAV submission %1 uncertain (%2): sent again with the same key.', upload.id, error),
      };
    case 'retrying':
      return { kind: 'warning', text: trans.__('PNAV submission %1 queued for retry (%2).', upload.id, error) };
    default:
      return { kind: 'info', text: trans.__('PNAV submission %1 queued.', upload.id) };
  }
}
