/**
 * The body of the upload dialog, which never dead-ends: token (masked), model id and endpoint
 * URL checked as calculadorapnav checks them, one tick box per record (PNAV takes one record per
 * process type, so a notebook with training and inference runs makes two), a readable preview,
 * and the submission itself. The dialog stays open until every chosen record is queued: problems
 * show inline in words, under the field they concern, and nothing typed is lost. A record already
 * sent there says so and offers to send it again on purpose. The token lives only in this form's input.
 */
import { Widget } from '@lumino/widgets';
import { previewRows } from './previewRows';
import type { ITrans } from './trans';
import type { IRecordPreview, IUpload, PnavRecord, TypeProcess } from './types';
import { duplicateMessage, type IMessage, type IRecordGroup } from './uploadMessages';
import { type IUploadForm, type UploadFormErrors, validateUploadForm } from './validation';

export interface IUploadFormValue extends IUploadForm {
  /** The records ticked, by process type. */
  typeProcesses: TypeProcess[];
}

export interface IUploadFormOptions {
  trans: ITrans;
  /** What is being uploaded, e.g. "the 3 finished runs of demo.ipynb". */
  scopeText: string;
  /** The records the selection makes, one per process type. */
  groups: IRecordGroup[];
  endpointUrl: string;
  modelId: string;
  /** Fetches the record that would be sent for one group (the typed model id in it). */
  preview: (group: IRecordGroup, modelId: string | null) => Promise<IRecordPreview>;
  /** Queues one record; `duplicate` when the same record already went there (nothing queued). */
  submit: (
    value: IUploadForm,
    group: IRecordGroup,
    resend: boolean,
  ) => Promise<{ upload: IUpload; duplicate: boolean }>;
  /** A sentence for a failed request (validation issues, network). */
  describeError: (error: unknown) => string;
}

let formCount = 0;

export class UploadForm extends Widget {
  constructor(private _options: IUploadFormOptions) {
    super();
    this.addClass('jp-pnav-UploadForm');
    const trans = _options.trans;
    const id = `jp-pnav-upload-${++formCount}`;
    this.node.appendChild(Object.assign(document.createElement('p'), { textContent: _options.scopeText }));
    this._token = this._field(id, 'token', trans.__('Token'), 'password', '');
    this._token.autocomplete = 'off';
    this._token.spellcheck = false;
    this._modelId = this._field(id, 'modelId', trans.__('Model id'), 'text', _options.modelId);
    this._modelId.spellcheck = false;
    this._endpoint = this._field(id, 'endpointUrl', trans.__('Endpoint URL'), 'url', _options.endpointUrl);
    this.node.appendChild(this._help());
    this.node.appendChild(this._records());
    const previewButton = document.createElement('button');
    previewButton.type = 'button';
    previewButton.className = 'jp-Button jp-mod-styled jp-mod-reject jp-pnav-PreviewButton';
    previewButton.textContent = trans.__('Preview what will be sent');
    previewButton.addEventListener('click', () => this._preview());
    this._previewBox = document.createElement('div');
    this._previewBox.className = 'jp-pnav-Preview';
    this._previewBox.setAttribute('aria-live', 'polite');
    this._status = document.createElement('div');
    this._status.className = 'jp-pnav-FormStatus';
    this._status.setAttribute('role', 'status');
    this._formError = document.createElement('div');
    this._formError.className = 'jp-pnav-FormError';
    this._formError.setAttribute('role', 'alert');
    this._duplicates = document.createElement('div');
    this._duplicates.className = 'jp-pnav-Duplicates';
    this.node.append(previewButton, this._previewBox, this._duplicates, this._formError, this._status);
  }

  /** Shows every problem under its field; true when the form can be sent. */
  check(): boolean {
    const result = validateUploadForm(this._raw());
    this._showErrors(result.ok ? {} : result.errors);
    const chosen = this._chosen().length > 0;
    this._recordsError.textContent = chosen ? '' : this._options.trans.__('Tick at least one record to send.');
    return result.ok && chosen;
  }

  /** The validated, normalised values, or null (errors shown). */
  getValue(): IUploadFormValue | null {
    if (!this.check()) return null;
    const result = validateUploadForm(this._raw());
    return result.ok ? { ...result.value, typeProcesses: this._chosen().map(g => g.typeProcess) } : null;
  }

  /** The uploads queued by this dialog (read after it closes). */
  get queued(): IUpload[] {
    return [...this._queued.values()];
  }

  /** Forgets the token: called as soon as the dialog closes. */
  clearToken(): void {
    this._token.value = '';
  }

  dispose(): void {
    this.clearToken();
    super.dispose();
  }

  /** Upload (or Enter) submits here; the dialog closes only once every chosen record is queued. */
  protected onAfterAttach(): void {
    this._dialog = this.node.closest('.jp-Dialog');
    this._dialog?.addEventListener('click', this._guard, true);
    this._dialog?.addEventListener('keydown', this._guard, true);
  }

  protected onBeforeDetach(): void {
    this._dialog?.removeEventListener('click', this._guard, true);
    this._dialog?.removeEventListener('keydown', this._guard, true);
    this._dialog = null;
  }

  private _guard = (event: Event): void => {
    const target = event.target as HTMLElement;
    const submits =
      event.type === 'click'
        ? target.closest('.jp-mod-accept') !== null
        : (event as KeyboardEvent).key === 'Enter' &&
          target.tagName !== 'BUTTON' &&
          target.tagName !== 'SUMMARY' &&
          this.node.contains(target);
    if (!submits || this._done) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!this.check()) {
      this.node.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    void this._submitAll(new Set());
  };

  /** Queues each chosen record not queued yet; closes the dialog when none is left. */
  private async _submitAll(resend: Set<TypeProcess>): Promise<void> {
    if (this._busy) return;
    const result = validateUploadForm(this._raw());
    if (!result.ok) return;
    const trans = this._options.trans;
    this._busy = true;
    this._setAccept(false, trans.__('Sending…'));
    this._formError.textContent = '';
    this._status.textContent = trans.__('Queuing…');
    let blocked = false;
    try {
      for (const group of this._chosen()) {
        if (this._queued.has(group.typeProcess)) continue;
        let answer: { upload: IUpload; duplicate: boolean };
        try {
          answer = await this._options.submit(result.value, group, resend.has(group.typeProcess));
        } catch (error) {
          this._formError.textContent = trans.__(
            'The %1 record was not queued: %2',
            trans.__(group.typeProcess),
            this._options.describeError(error),
          );
          blocked = true;
          break;
        }
        if (answer.duplicate) {
          this._showDuplicate(group, answer.upload);
          blocked = true;
          continue;
        }
        this._queued.set(group.typeProcess, answer.upload);
        this._duplicates.querySelector(`[data-type-process="${group.typeProcess}"]`)?.remove();
      }
    } finally {
      this._busy = false;
      this._status.textContent = '';
      this._setAccept(true, trans.__('Upload'));
    }
    if (!blocked) this._close();
  }

  private _close(): void {
    this._done = true;
    this._dialog?.querySelector<HTMLButtonElement>('.jp-mod-accept')?.click();
  }

  private _setAccept(enabled: boolean, label: string): void {
    const button = this._dialog?.querySelector<HTMLButtonElement>('.jp-mod-accept');
    if (!button) return;
    button.disabled = !enabled;
    const text = button.querySelector('.jp-Dialog-buttonLabel') ?? button;
    text.textContent = label;
  }

  private _showDuplicate(group: IRecordGroup, upload: IUpload): void {
    const trans = this._options.trans;
    this._duplicates.querySelector(`[data-type-process="${group.typeProcess}"]`)?.remove();
    const box = document.createElement('div');
    box.className = 'jp-pnav-Duplicate';
    box.dataset.typeProcess = group.typeProcess;
    box.setAttribute('role', 'alert');
    const text = document.createElement('p');
    text.textContent = this._say(duplicateMessage(upload));
    const again = document.createElement('button');
    again.type = 'button';
    again.className = 'jp-Button jp-mod-styled jp-mod-warn jp-pnav-SendAgain';
    again.textContent = trans.__('Send the %1 record again', trans.__(group.typeProcess));
    again.addEventListener('click', () => {
      if (!this.check()) return;
      void this._submitAll(new Set([group.typeProcess]));
    });
    const skip = document.createElement('button');
    skip.type = 'button';
    skip.className = 'jp-Button jp-mod-styled jp-mod-reject jp-pnav-SkipRecord';
    skip.textContent = trans.__('Leave it as sent');
    skip.addEventListener('click', () => {
      const tick = this._recordBoxes.get(group.typeProcess);
      if (tick) tick.checked = false;
      box.remove();
      if (this._chosen().every(g => this._queued.has(g.typeProcess))) this._close();
    });
    box.append(text, again, ' ', skip);
    this._duplicates.appendChild(box);
    again.focus();
  }

  private _say(message: IMessage): string {
    return this._options.trans.__(message.text, ...message.args);
  }

  private _chosen(): IRecordGroup[] {
    return this._options.groups.filter(group => this._recordBoxes.get(group.typeProcess)?.checked);
  }

  private _raw(): IUploadForm {
    return { token: this._token.value, modelId: this._modelId.value, endpointUrl: this._endpoint.value };
  }

  private _records(): HTMLElement {
    const trans = this._options.trans;
    const set = document.createElement('fieldset');
    set.className = 'jp-pnav-Records';
    const legend = document.createElement('legend');
    legend.textContent = trans.__('Records to send (one per process type)');
    set.appendChild(legend);
    for (const group of this._options.groups) {
      const label = document.createElement('label');
      label.className = 'jp-pnav-Record';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.name = `record-${group.typeProcess}`;
      box.checked = true;
      box.addEventListener('change', () => {
        if (this._shownErrors) this.check();
      });
      this._recordBoxes.set(group.typeProcess, box);
      const text = document.createElement('span');
      text.textContent = trans.__(
        '%1 record: %2 run(s) — %3',
        trans.__(group.typeProcess),
        group.runs.length,
        group.runNames,
      );
      label.append(box, text);
      set.appendChild(label);
    }
    this._recordsError = document.createElement('div');
    this._recordsError.className = 'jp-pnav-FieldError';
    this._recordsError.setAttribute('role', 'alert');
    set.appendChild(this._recordsError);
    return set;
  }

  private _help(): HTMLElement {
    const trans = this._options.trans;
    const details = document.createElement('details');
    details.className = 'jp-pnav-Help';
    const summary = document.createElement('summary');
    summary.textContent = trans.__('Where do the token, model id and endpoint come from?');
    const list = document.createElement('ul');
    for (const text of [
      trans.__(
        'Token: the 64-character key PNAV gave your organisation when it registered. It is sent once to the endpoint and never stored in the notebook.',
      ),
      trans.__(
        'Model id: the 64-character id PNAV gave the model you registered. The panel remembers it in the PNAV Lab settings.',
      ),
      trans.__('Endpoint URL: the PNAV submission address (https://…), as in calculadorapnav’s endpoint_url.'),
    ]) {
      list.appendChild(Object.assign(document.createElement('li'), { textContent: text }));
    }
    details.append(summary, list);
    return details;
  }

  private _field(id: string, name: keyof IUploadForm, label: string, type: string, value: string): HTMLInputElement {
    const wrapper = document.createElement('div');
    wrapper.className = 'jp-pnav-Field';
    const labelNode = document.createElement('label');
    labelNode.htmlFor = `${id}-${name}`;
    labelNode.textContent = label;
    const input = document.createElement('input');
    input.id = `${id}-${name}`;
    input.name = name;
    input.type = type;
    input.value = value;
    input.className = 'jp-mod-styled';
    const error = document.createElement('div');
    error.className = 'jp-pnav-FieldError';
    error.id = `${id}-${name}-error`;
    error.setAttribute('role', 'alert');
    input.setAttribute('aria-describedby', error.id);
    input.addEventListener('input', () => {
      if (this._shownErrors) this.check();
    });
    wrapper.append(labelNode, input, error);
    this.node.appendChild(wrapper);
    this._errors[name] = error;
    return input;
  }

  private _showErrors(errors: UploadFormErrors): void {
    this._shownErrors = true;
    for (const [name, node] of Object.entries(this._errors) as [keyof IUploadForm, HTMLElement][]) {
      const message = errors[name];
      node.textContent = message ? this._options.trans.__(message) : '';
      node.parentElement?.querySelector('input')?.setAttribute('aria-invalid', message ? 'true' : 'false');
    }
  }

  private _preview(): void {
    const trans = this._options.trans;
    const box = this._previewBox;
    const groups = this._chosen();
    if (groups.length === 0) {
      this.check();
      return;
    }
    box.textContent = trans.__('Loading the record…');
    // The model id as typed goes into the preview when it is valid; otherwise the record shows it empty.
    const modelId = /^[0-9a-f]{64}$/.test(this._modelId.value.trim()) ? this._modelId.value.trim() : null;
    const generation = ++this._previewGeneration;
    Promise.allSettled(groups.map(group => this._options.preview(group, modelId))).then(results => {
      if (generation !== this._previewGeneration || this.isDisposed) return;
      box.replaceChildren();
      results.forEach((result, i) => {
        const group = groups[i];
        const title = document.createElement('h4');
        title.textContent = trans.__('%1 record', trans.__(group.typeProcess));
        box.appendChild(title);
        if (result.status === 'rejected') {
          const error = document.createElement('p');
          error.className = 'jp-pnav-FormError';
          error.textContent = trans.__('Preview failed: %1', this._options.describeError(result.reason));
          box.appendChild(error);
          return;
        }
        const { record, location, excludedRunIds } = result.value;
        const where = document.createElement('p');
        where.className = 'jp-pnav-PreviewLocation';
        where.textContent = trans.__(
          'Country: %1 %2 (from: %3), %4 g CO₂e/kWh (%5)',
          location.countryIso3,
          location.countryName,
          location.countrySource,
          location.intensityGPerKWh,
          location.intensitySource,
        );
        box.appendChild(where);
        if (excludedRunIds.length > 0) {
          const excluded = document.createElement('p');
          excluded.className = 'jp-pnav-PreviewExcluded';
          excluded.textContent = trans.__('Left out: %1 failed or interrupted run(s)', excludedRunIds.length);
          box.appendChild(excluded);
        }
        box.appendChild(this._previewTable(record, group));
      });
    });
  }

  private _previewTable(record: PnavRecord, group: IRecordGroup): HTMLTableElement {
    const trans = this._options.trans;
    const table = document.createElement('table');
    table.className = 'jp-pnav-PreviewTable';
    table.setAttribute('aria-label', trans.__('The %1 record that will be sent', trans.__(group.typeProcess)));
    for (const row of previewRows(record)) {
      const tr = table.insertRow();
      tr.dataset.key = row.key;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = trans.__(row.label);
      th.title = row.key;
      tr.appendChild(th);
      const td = tr.insertCell();
      td.textContent = row.sent === null ? row.shown : `${row.shown} (${row.sent})`;
    }
    return table;
  }

  private _token: HTMLInputElement;
  private _modelId: HTMLInputElement;
  private _endpoint: HTMLInputElement;
  private _previewBox: HTMLDivElement;
  private _status: HTMLDivElement;
  private _formError: HTMLDivElement;
  private _duplicates: HTMLDivElement;
  private _recordsError!: HTMLDivElement;
  private _recordBoxes = new Map<TypeProcess, HTMLInputElement>();
  private _errors: Partial<Record<keyof IUploadForm, HTMLElement>> = {};
  private _queued = new Map<TypeProcess, IUpload>();
  private _shownErrors = false;
  private _busy = false;
  private _done = false;
  private _previewGeneration = 0;
  private _dialog: HTMLElement | null = null;
}
