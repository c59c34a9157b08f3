// @vitest-environment jsdom
import { Widget } from '@lumino/widgets';
import { describe, expect, it, vi } from 'vitest';
import { makeRun } from '../test-support/fixtures';
import { plainTrans } from './trans';
import type { IRecordPreview, IUpload, PnavRecord } from './types';
import { type IUploadFormOptions, UploadForm } from './uploadForm';
import { type IRecordGroup, recordGroups } from './uploadMessages';

const HEX = 'cd'.repeat(32);
const RUNS = [
  makeRun('t1', { executionCount: 2, label: 'fit' }),
  makeRun('i1', { typeProcess: 'inference', executionCount: 5, label: 'predict' }),
];

function upload(typeProcess: 'training' | 'inference', overrides: Partial<IUpload> = {}): IUpload {
  return {
    id: `up-${typeProcess}`,
    status: 'queued',
    endpointUrl: 'http://127.0.0.1:1/x',
    modelId: HEX,
    typeProcess,
    notebookPath: 'nb.ipynb',
    runIds: [],
    idempotencyKey: 'k',
    attempts: 0,
    lastError: null,
    lastHttpStatus: null,
    nextAttemptAt: null,
    createdAt: '2026-03-02T10:00:00.000Z',
    updatedAt: '2026-03-02T10:00:00.000Z',
    sentAt: null,
    ...overrides,
  };
}

function makeForm(overrides: Partial<IUploadFormOptions> = {}): UploadForm {
  return new UploadForm({
    trans: plainTrans,
    scopeText: 'the 2 finished runs of nb.ipynb',
    groups: recordGroups(RUNS, run => run.label ?? run.id),
    endpointUrl: 'http://127.0.0.1:1/x',
    modelId: HEX,
    preview: () => Promise.reject(new Error('unused')),
    submit: (_value, group) => Promise.resolve({ upload: upload(group.typeProcess), duplicate: false }),
    describeError: error => (error instanceof Error ? error.message : String(error)),
    ...overrides,
  });
}

/** The same structure as JupyterLab's Dialog: the form inside `.jp-Dialog`, the buttons after it. */
function mount(form: UploadForm): { accept: HTMLButtonElement; closed: () => number } {
  const dialog = document.createElement('div');
  dialog.className = 'jp-Dialog';
  document.body.appendChild(dialog);
  Widget.attach(form, dialog);
  const accept = document.createElement('button');
  accept.className = 'jp-mod-accept';
  dialog.appendChild(accept);
  let count = 0;
  dialog.addEventListener('click', event => {
    if ((event.target as HTMLElement).closest('.jp-mod-accept')) count++;
  });
  return { accept, closed: () => count };
}

const input = (form: UploadForm, name: string) => form.node.querySelector<HTMLInputElement>(`input[name="${name}"]`)!;
const settle = () => new Promise(resolve => setTimeout(resolve, 0));

describe('UploadForm', () => {
  it('offers one record per process type, runs named by cell and label', () => {
    const form = makeForm();
    const records = [...form.node.querySelectorAll('.jp-pnav-Record')].map(r => r.textContent);
    expect(records).toEqual(['training record: 1 run(s) — [2] fit', 'inference record: 1 run(s) — [5] predict']);
  });

  it('stays open with the error under the field and keeps what was typed', async () => {
    const submit = vi.fn(() => Promise.resolve({ upload: upload('training'), duplicate: false }));
    const form = makeForm({ submit });
    const { accept, closed } = mount(form);
    expect(input(form, 'token').type).toBe('password');
    input(form, 'token').value = 'not-a-token';
    accept.click();
    await settle();
    expect(closed()).toBe(0);
    expect(submit).not.toHaveBeenCalled();
    expect(form.node.querySelector('.jp-pnav-FieldError')?.textContent).toBe(
      'The token must be a 64-character hexadecimal string.',
    );
    expect(input(form, 'token').getAttribute('aria-invalid')).toBe('true');
    expect(input(form, 'token').value).toBe('not-a-token');
    expect(input(form, 'modelId').value).toBe(HEX);
  });

  it('queues each ticked record, then closes', async () => {
    const submit = vi.fn((_value, group) => Promise.resolve({ upload: upload(group.typeProcess), duplicate: false }));
    const form = makeForm({ submit });
    const { accept, closed } = mount(form);
    input(form, 'token').value = ` ${HEX.toUpperCase()} `;
    input(form, 'record-inference').checked = false;
    accept.click();
    await settle();
    expect(submit).toHaveBeenCalledTimes(1);
    expect(submit.mock.calls[0][0]).toEqual({ token: HEX, modelId: HEX, endpointUrl: 'http://127.0.0.1:1/x' });
    expect(form.queued.map(u => u.typeProcess)).toEqual(['training']);
    // The user's click is held back; the form's own click closes the dialog once all is queued.
    expect(closed()).toBe(1);
  });

  it('keeps the dialog open with the reason when the sidecar refuses, and sends what is left on the next try', async () => {
    let refuse = true;
    const submit = vi.fn((_value, group) =>
      group.typeProcess === 'inference' && refuse
        ? Promise.reject(new Error('endpointUrl: must be an http(s) URL'))
        : Promise.resolve({ upload: upload(group.typeProcess), duplicate: false }),
    );
    const form = makeForm({ submit });
    const { accept, closed } = mount(form);
    input(form, 'token').value = HEX;
    accept.click();
    await settle();
    expect(closed()).toBe(0);
    expect(form.node.querySelector('.jp-pnav-FormError')?.textContent).toBe(
      'The inference record was not queued: endpointUrl: must be an http(s) URL',
    );
    refuse = false;
    accept.click();
    await settle();
    // The training record was not queued twice.
    expect(submit.mock.calls.map(c => c[1].typeProcess)).toEqual(['training', 'inference', 'inference']);
    expect(closed()).toBe(1);
  });

  it('says a record was already sent and sends it again only when asked', async () => {
    const submit = vi.fn((_value, group, resend: boolean) =>
      Promise.resolve(
        resend
          ? { upload: upload(group.typeProcess), duplicate: false }
          : {
              upload: upload(group.typeProcess, { status: 'sent', sentAt: '2026-03-02T10:05:00.000Z' }),
              duplicate: true,
            },
      ),
    );
    const form = makeForm({ submit, groups: recordGroups([RUNS[0]], run => run.label ?? run.id) });
    const { accept, closed } = mount(form);
    input(form, 'token').value = HEX;
    accept.click();
    await settle();
    const duplicate = form.node.querySelector('.jp-pnav-Duplicate');
    expect(duplicate?.textContent).toMatch(
      /^This training record was already sent on .+ \(sent\)\.Send the training record again/,
    );
    expect(closed()).toBe(0);
    form.node.querySelector<HTMLButtonElement>('.jp-pnav-SendAgain')!.click();
    await settle();
    expect(submit.mock.calls.map(c => c[2])).toEqual([false, true]);
    expect(closed()).toBe(1);
  });

  it('forgets the token when disposed', () => {
    const form = makeForm();
    input(form, 'token').value = HEX;
    const token = input(form, 'token');
    form.dispose();
    expect(token.value).toBe('');
  });

  it('previews each ticked record with names and units, the typed model id in it', async () => {
    // Four of the record's columns are enough to check how rows are drawn.
    const preview = vi.fn((group: IRecordGroup, modelId: string | null) =>
      Promise.resolve({
        record: {
          type_process: group.typeProcess,
          model_id: modelId,
          energy_consumed: 0.000375,
          region: null,
        } as Partial<PnavRecord> as PnavRecord,
        runIds: group.runs.map(r => r.id),
        excludedRunIds: [],
        location: RUNS[0].location,
      } as unknown as IRecordPreview),
    );
    const form = makeForm({ preview });
    form.node.querySelector<HTMLButtonElement>('.jp-pnav-PreviewButton')!.click();
    await settle();
    await settle();
    expect(preview.mock.calls.map(c => c[1])).toEqual([HEX, HEX]);
    expect(form.node.querySelector('.jp-pnav-PreviewLocation')?.textContent).toBe(
      'Country: ESP Spain (from: config), 146.15 g CO₂e/kWh (test)',
    );
    const rows = [...form.node.querySelectorAll('.jp-pnav-PreviewTable')][0].querySelectorAll('tr');
    expect([...rows].map(r => r.textContent)).toEqual([
      'Processtraining',
      `Model id${HEX}`,
      'Energy consumed1.35 kJ (0.000375 kWh)',
      'Region–',
    ]);
  });
});
