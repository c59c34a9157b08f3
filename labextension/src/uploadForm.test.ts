// @vitest-environment jsdom
import { Widget } from '@lumino/widgets';
import { describe, expect, it } from 'vitest';
import { plainTrans } from './trans';
import type { IRecordPreview, PnavRecord } from './types';
import { UploadForm } from './uploadForm';

const HEX = 'cd'.repeat(32);

function mount(form: UploadForm): { dialog: HTMLElement; accept: HTMLButtonElement; accepted: () => number } {
  // The same structure as JupyterLab's Dialog: the form inside `.jp-Dialog`, the buttons after it.
  const dialog = document.createElement('div');
  dialog.className = 'jp-Dialog';
  document.body.appendChild(dialog);
  Widget.attach(form, dialog);
  const accept = document.createElement('button');
  accept.className = 'jp-mod-accept';
  dialog.appendChild(accept);
  let count = 0;
  dialog.addEventListener('click', () => count++);
  return { dialog, accept, accepted: () => count };
}

function input(form: UploadForm, name: string): HTMLInputElement {
  return form.node.querySelector<HTMLInputElement>(`input[name="${name}"]`)!;
}

describe('UploadForm', () => {
  it('masks the token and keeps the dialog open while a field is invalid', () => {
    const form = new UploadForm({
      trans: plainTrans,
      scopeText: '1 run',
      endpointUrl: 'http://127.0.0.1:1/x',
      modelId: HEX,
      preview: () => Promise.reject(new Error('unused')),
    });
    const { accept, accepted } = mount(form);
    expect(input(form, 'token').type).toBe('password');
    input(form, 'token').value = 'not-a-token';
    accept.click();
    expect(accepted()).toBe(0);
    expect(form.node.textContent).toContain('The token must be a 64-character hexadecimal string.');
    expect(input(form, 'token').getAttribute('aria-invalid')).toBe('true');

    input(form, 'token').value = ` ${HEX.toUpperCase()} `;
    accept.click();
    expect(accepted()).toBe(1);
    expect(form.getValue()).toEqual({
      token: HEX,
      modelId: HEX,
      endpointUrl: 'http://127.0.0.1:1/x',
      typeProcess: 'training',
      recordFailed: false,
    });
  });

  it('forgets the token when disposed', () => {
    const form = new UploadForm({
      trans: plainTrans,
      scopeText: '',
      endpointUrl: '',
      modelId: '',
      preview: () => Promise.reject(new Error('unused')),
    });
    const token = input(form, 'token');
    token.value = HEX;
    form.dispose();
    expect(token.value).toBe('');
  });

  it('shows the record preview as key/value rows, its country and source, and the failed runs left out', async () => {
    const asked: boolean[] = [];
    const form = new UploadForm({
      trans: plainTrans,
      scopeText: '',
      endpointUrl: '',
      modelId: '',
      // Three of the record's columns are enough to check how rows are drawn.
      preview: (typeProcess, recordFailed) => {
        asked.push(recordFailed);
        return Promise.resolve({
          record: {
            type_process: typeProcess,
            energy_consumed: 0.001,
            region: null,
          } as Partial<PnavRecord> as PnavRecord,
          runIds: ['r1'],
          excludedRunIds: recordFailed ? [] : ['r2'],
          location: {
            countryIso3: 'ESP',
            countryName: 'Spain',
            countrySource: 'default',
            intensityGPerKWh: 125.6,
            intensitySource: 'calculadorapnav 1.0.2 factors',
          } as IRecordPreview['location'],
        });
      },
    });
    form.node.querySelector<HTMLButtonElement>('.jp-pnav-PreviewButton')!.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    const rows = [...form.node.querySelectorAll('.jp-pnav-PreviewTable tr')].map(r => r.textContent);
    expect(rows).toEqual(['type_processtraining', 'energy_consumed0.001', 'region']);
    expect(form.node.querySelector('.jp-pnav-PreviewLocation')!.textContent).toBe(
      'Country: ESP Spain (from: default), 125.6 g CO2eq/kWh (calculadorapnav 1.0.2 factors)',
    );
    expect(form.node.querySelector('.jp-pnav-PreviewExcluded')!.textContent).toBe(
      'Left out: 1 failed or interrupted run(s): r2',
    );
    form.node.querySelector<HTMLInputElement>('input[name="recordFailed"]')!.click();
    form.node.querySelector<HTMLButtonElement>('.jp-pnav-PreviewButton')!.click();
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(asked).toEqual([false, true]);
    expect(form.node.querySelector('.jp-pnav-PreviewExcluded')).toBeNull();
  });
});
