/**
 * Per-record upload status (queued, sending, sent, retrying, failed with the
 * server's reason), polled from the sidecar while any is pending, slowing
 * down while nothing changes.
 */
import type { ServerConnection } from '@jupyterlab/services';
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';
import { errorMessage } from '../errors';
import { listUploads } from '../outputs';
import type { ITrans } from '../trans';
import type { IUpload } from '../types';
import { uploadProblem } from '../uploadMessages';

const FIRST_INTERVAL_MS = 1000;
const MAX_INTERVAL_MS = 15_000;

function pending(upload: IUpload): boolean {
  return upload.status !== 'sent' && upload.status !== 'failed';
}

/** What the user can do with an upload from its row (and its notification). */
export interface IUploadActions {
  /** Send a retrying upload now. */
  retryNow(upload: IUpload): void;
  /** Send a failed upload again (asks for the token, which a failed upload no longer keeps). */
  sendAgain(upload: IUpload): void;
  cancel(upload: IUpload): void;
  /** Called when an upload this session queued changes status (for notifications). */
  changed(upload: IUpload, previous: IUpload | undefined): void;
}

export class UploadsView extends Widget {
  constructor(
    private _settings: ServerConnection.ISettings,
    private _trans: ITrans,
    /** Which uploads belong to the notebook on screen. */
    private _belongs: (upload: IUpload) => boolean,
  ) {
    super();
    this.addClass('jp-pnav-Uploads');
    this._poll = new Poll({
      auto: false,
      factory: () => this._fetch(),
      frequency: { interval: FIRST_INTERVAL_MS, backoff: true, max: MAX_INTERVAL_MS },
      name: 'pnav-lab:uploads',
      standby: 'when-hidden',
    });
    this.render();
  }

  set actions(actions: IUploadActions | null) {
    this._actions = actions;
    this.render();
  }

  /** Shows new uploads at once, polls until all are sent or failed, and reports their changes. */
  track(uploads: IUpload[]): void {
    const byId = new Map(this._uploads.map(u => [u.id, u]));
    for (const upload of uploads) {
      byId.set(upload.id, upload);
      this._watched.set(upload.id, upload);
      this._actions?.changed(upload, undefined);
    }
    this._uploads = [...byId.values()];
    this.render();
    this._poll.frequency = { ...this._poll.frequency, interval: FIRST_INTERVAL_MS };
    this._poll.start().catch(() => undefined);
  }

  refresh(): void {
    this._fetch().catch(() => undefined);
  }

  dispose(): void {
    this._poll.dispose();
    super.dispose();
  }

  private async _fetch(): Promise<void> {
    let uploads: IUpload[];
    try {
      uploads = (await listUploads(null, this._settings)).filter(this._belongs);
      this._error = null;
    } catch (error) {
      this._error = errorMessage(error);
      this.render();
      throw error;
    }
    const before = JSON.stringify(this._uploads);
    this._uploads = uploads;
    for (const upload of uploads) {
      const previous = this._watched.get(upload.id);
      if (!previous) continue;
      this._watched.set(upload.id, upload);
      if (previous.status !== upload.status || previous.attempts !== upload.attempts) {
        this._actions?.changed(upload, previous);
      }
      if (!pending(upload)) this._watched.delete(upload.id);
    }
    const changed = before !== JSON.stringify(this._uploads);
    this.render();
    if (!this._uploads.some(pending)) {
      this._poll.stop().catch(() => undefined);
    } else if (!changed) {
      // Nothing moved: back off, up to the maximum.
      const interval = Math.min(MAX_INTERVAL_MS, this._poll.frequency.interval * 1.5);
      this._poll.frequency = { ...this._poll.frequency, interval };
    } else {
      this._poll.frequency = { ...this._poll.frequency, interval: FIRST_INTERVAL_MS };
    }
  }

  render(): void {
    const trans = this._trans;
    const node = this.node;
    node.textContent = '';
    if (this._uploads.length === 0 && this._error === null) return;
    const title = document.createElement('h3');
    title.textContent = trans.__('Uploads to PNAV');
    node.appendChild(title);
    if (this._error) {
      const error = document.createElement('p');
      error.className = 'jp-pnav-Error';
      error.textContent = trans.__('Could not read upload status: %1', this._error);
      node.appendChild(error);
    }
    const list = document.createElement('ul');
    list.setAttribute('aria-label', trans.__('Upload status'));
    for (const upload of this._uploads) {
      const item = document.createElement('li');
      item.className = `jp-pnav-Upload jp-pnav-Upload-${upload.status}`;
      item.dataset.uploadId = upload.id;
      item.dataset.status = upload.status;
      const status = document.createElement('span');
      status.className = 'jp-pnav-Upload-status';
      status.textContent = trans.__(upload.status);
      const text = document.createElement('span');
      const runs = upload.runIds.length > 0 ? trans.__('%1 run(s)', upload.runIds.length) : upload.id.slice(0, 8);
      let detail = trans.__('%1 record, %2, attempt %3', trans.__(upload.typeProcess), runs, upload.attempts);
      if (upload.status === 'sent' && upload.sentAt) {
        detail += ` · ${trans.__('sent %1', new Date(upload.sentAt).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' }))}`;
      }
      if ((upload.status === 'retrying' || upload.status === 'uncertain') && upload.nextAttemptAt) {
        detail += ` · ${trans.__('next at %1', new Date(upload.nextAttemptAt).toLocaleTimeString())}`;
      }
      text.textContent = detail;
      item.append(status, text);
      const problem = upload.status === 'sent' ? null : uploadProblem(upload);
      if (problem) {
        const reason = document.createElement('div');
        reason.className = 'jp-pnav-Upload-reason';
        reason.textContent = trans.__(problem.text, ...problem.args);
        reason.title = upload.lastError ?? '';
        item.appendChild(reason);
      }
      if (upload.fix) {
        const fix = document.createElement('div');
        fix.className = 'jp-pnav-Upload-fix';
        fix.textContent = trans.__('To fix: %1', upload.fix);
        item.appendChild(fix);
      }
      const actions = this._actions;
      if (actions) {
        const bar = document.createElement('div');
        bar.className = 'jp-pnav-Upload-actions';
        const button = (label: string, name: string, run: () => void) => {
          const node = document.createElement('button');
          node.type = 'button';
          node.className = 'jp-Button jp-mod-styled jp-mod-reject';
          node.dataset.action = name;
          node.textContent = label;
          node.addEventListener('click', run);
          bar.appendChild(node);
        };
        const waiting = upload.status === 'retrying' || upload.status === 'uncertain';
        if (waiting) button(trans.__('Retry now'), 'retry', () => actions.retryNow(upload));
        if (upload.status === 'failed') button(trans.__('Send again…'), 'send-again', () => actions.sendAgain(upload));
        if (upload.status === 'queued' || waiting) {
          button(trans.__('Cancel'), 'cancel', () => actions.cancel(upload));
        }
        if (bar.childElementCount > 0) item.appendChild(bar);
      }
      list.appendChild(item);
    }
    node.appendChild(list);
  }

  private _poll: Poll;
  private _actions: IUploadActions | null = null;
  /** Uploads queued in this session, by id, as last seen: their changes are notified. */
  private _watched = new Map<string, IUpload>();
  private _uploads: IUpload[] = [];
  private _error: string | null = null;
}
