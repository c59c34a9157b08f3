/**
 * The body of the upload dialog: token (masked), model id, endpoint URL and
 * process type, checked as calculadorapnav checks them, and a preview of the
 * record the sidecar would send. The token lives only in this form's input.
 */
import { Widget } from '@lumino/widgets';
import type { ITrans } from './trans';
import type { IRecordPreview, TypeProcess } from './types';
import { type IUploadForm, type UploadFormErrors, validateUploadForm } from './validation';

export interface IUploadFormValue extends IUploadForm {
  typeProcess: TypeProcess;
  /** Include failed and interrupted runs: left out by default, as the PNAV record carries no status. */
  recordFailed: boolean;
}

export interface IUploadFormOptions {
  trans: ITrans;
  /** What is being uploaded, e.g. "3 selected runs". */
  scopeText: string;
  endpointUrl: string;
  modelId: string;
  /** Fetches the record preview for the given process type, with or without the failed runs. */
  preview: (typeProcess: TypeProcess, recordFailed: boolean) => Promise<IRecordPreview>;
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
    this._endpoint = this._field(id, 'endpointUrl', trans.__('Endpoint URL'), 'url', _options.endpointUrl);
    const typeLabel = document.createElement('label');
    typeLabel.textContent = trans.__('Process');
    this._type = document.createElement('select');
    for (const value of ['training', 'inference'] as const) {
      this._type.appendChild(new Option(trans.__(value), value));
    }
    typeLabel.appendChild(this._type);
    this.node.appendChild(typeLabel);
    const failedLabel = document.createElement('label');
    failedLabel.className = 'jp-pnav-RecordFailed';
    this._recordFailed = document.createElement('input');
    this._recordFailed.type = 'checkbox';
    this._recordFailed.name = 'recordFailed';
    failedLabel.append(this._recordFailed, ` ${trans.__('Include failed or interrupted runs')}`);
    this.node.appendChild(failedLabel);
    const previewButton = document.createElement('button');
    previewButton.type = 'button';
    previewButton.className = 'jp-Button jp-mod-styled jp-mod-reject jp-pnav-PreviewButton';
    previewButton.textContent = trans.__('Preview record');
    previewButton.addEventListener('click', () => this._preview());
    this._previewBox = document.createElement('div');
    this._previewBox.className = 'jp-pnav-Preview';
    this._previewBox.setAttribute('aria-live', 'polite');
    this.node.append(previewButton, this._previewBox);
  }

  /** Shows every problem under its field; true when the form can be sent. */
  check(): boolean {
    const result = validateUploadForm(this._raw());
    this._showErrors(result.ok ? {} : result.errors);
    return result.ok;
  }

  /** The validated, normalised values, or null (errors shown). */
  getValue(): IUploadFormValue | null {
    const result = validateUploadForm(this._raw());
    this._showErrors(result.ok ? {} : result.errors);
    return result.ok
      ? { ...result.value, typeProcess: this._type.value as TypeProcess, recordFailed: this._recordFailed.checked }
      : null;
  }

  /** Forgets the token: called as soon as the request is sent or the dialog is cancelled. */
  clearToken(): void {
    this._token.value = '';
  }

  dispose(): void {
    this.clearToken();
    super.dispose();
  }

  /** The dialog would close on Upload or Enter; while the form is invalid it stays open and shows why. */
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
        : (event as KeyboardEvent).key === 'Enter' && target.tagName !== 'BUTTON';
    if (submits && !this.check()) {
      event.preventDefault();
      event.stopImmediatePropagation();
      this.node.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus();
    }
  };

  private _raw(): IUploadForm {
    return { token: this._token.value, modelId: this._modelId.value, endpointUrl: this._endpoint.value };
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
    const box = this._previewBox;
    box.textContent = this._options.trans.__('Loading the record…');
    const trans = this._options.trans;
    this._options
      .preview(this._type.value as TypeProcess, this._recordFailed.checked)
      .then(({ record, location, excludedRunIds }) => {
        const where = document.createElement('p');
        where.className = 'jp-pnav-PreviewLocation';
        where.textContent = trans.__(
          'Country: %1 %2 (from: %3), %4 g CO2eq/kWh (%5)',
          location.countryIso3,
          location.countryName,
          location.countrySource,
          location.intensityGPerKWh,
          location.intensitySource,
        );
        const excluded = document.createElement('p');
        excluded.className = 'jp-pnav-PreviewExcluded';
        excluded.textContent =
          excludedRunIds.length > 0
            ? trans.__(
                'Left out: %1 failed or interrupted run(s): %2',
                excludedRunIds.length,
                excludedRunIds.join(', '),
              )
            : '';
        const table = document.createElement('table');
        table.className = 'jp-pnav-PreviewTable';
        table.setAttribute('aria-label', this._options.trans.__('Record preview'));
        for (const [key, value] of Object.entries(record)) {
          const row = table.insertRow();
          row.insertCell().textContent = key;
          row.insertCell().textContent = value === null ? '' : String(value);
        }
        box.replaceChildren(where, ...(excludedRunIds.length > 0 ? [excluded] : []), table);
      })
      .catch((error: unknown) => {
        box.textContent = this._options.trans.__(
          'Preview failed: %1',
          error instanceof Error ? error.message : String(error),
        );
      });
  }

  private _token: HTMLInputElement;
  private _modelId: HTMLInputElement;
  private _endpoint: HTMLInputElement;
  private _type: HTMLSelectElement;
  private _recordFailed: HTMLInputElement;
  private _previewBox: HTMLDivElement;
  private _errors: Partial<Record<keyof IUploadForm, HTMLElement>> = {};
  private _shownErrors = false;
  private _dialog: HTMLElement | null = null;
}
