/**
 * The palette commands and what they do: open the panel, export, upload, pause the chart; and
 * the notifications that follow an upload (sent, rejected, retrying) with their actions.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, type ICommandPalette, InputDialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { errorMessage, PnavApiError, PnavNetworkError } from './errors';
import { exportName } from './filename';
import { cancelUpload, createUpload, downloadExport, previewRecord, retryUpload } from './outputs';
import type { PnavPanel } from './panel/panel';
import type { IUploadActions } from './panel/uploads';
import type { SettingsHolder } from './settings';
import type { ExportFormat, IRun, IUpload } from './types';
import { UploadForm } from './uploadForm';
import { type IRecordGroup, nameRuns, recordGroups, uploadProblemShort } from './uploadMessages';
import { validateToken } from './validation';

export namespace CommandIDs {
  export const openPanel = 'pnav-lab:open-panel';
  export const exportCsv = 'pnav-lab:export-csv';
  export const exportJson = 'pnav-lab:export-json';
  export const exportBoamps = 'pnav-lab:export-boamps';
  export const upload = 'pnav-lab:upload';
  export const togglePause = 'pnav-lab:toggle-pause';
}

export const PALETTE_CATEGORY = 'PNAV Lab';

export interface ICommandsOptions {
  app: JupyterFrontEnd;
  panel: PnavPanel;
  settings: SettingsHolder;
  trans: TranslationBundle;
  palette: ICommandPalette | null;
}

/** A tick box per record (training, inference), all ticked: for BoAmps, which covers one process type per file. */
class RecordChoice extends Widget {
  constructor(groups: IRecordGroup[], trans: TranslationBundle, intro: string) {
    super();
    this.addClass('jp-pnav-RecordChoice');
    this.node.appendChild(Object.assign(document.createElement('p'), { textContent: intro }));
    for (const group of groups) {
      const label = document.createElement('label');
      label.className = 'jp-pnav-Record';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = true;
      box.name = `record-${group.typeProcess}`;
      this._boxes.push([box, group]);
      const text = document.createElement('span');
      text.textContent = trans.__(
        '%1 record: %2 run(s) — %3',
        trans.__(group.typeProcess),
        group.runs.length,
        group.runNames,
      );
      label.append(box, text);
      this.node.appendChild(label);
    }
  }

  getValue(): IRecordGroup[] {
    return this._boxes.filter(([box]) => box.checked).map(([, group]) => group);
  }

  private _boxes: [HTMLInputElement, IRecordGroup][] = [];
}

export function registerCommands({ app, panel, settings, trans, palette }: ICommandsOptions): void {
  const { commands, shell } = app;
  const serverSettings = app.serviceManager.serverSettings;
  const hasSelection = () => panel.selection() !== null;
  const labelOf = (run: IRun) => panel.labelOf(run);

  /** A sentence for a failed request: the fields it names, runs by name, the sidecar's absence said plainly. */
  const describe = (error: unknown, runs: readonly IRun[] = []): string => {
    if (error instanceof PnavNetworkError) {
      return trans.__('the PNAV sidecar could not be reached (%1). Is JupyterLab still running?', error.message);
    }
    const text = error instanceof PnavApiError ? error.detail : errorMessage(error);
    return nameRuns(text, runs, labelOf);
  };

  commands.addCommand(CommandIDs.openPanel, {
    label: trans.__('Open the PNAV energy panel'),
    execute: () => shell.activateById(panel.id),
  });

  const exportCommand = (id: string, format: ExportFormat, label: string) =>
    commands.addCommand(id, {
      label,
      isEnabled: hasSelection,
      execute: async () => {
        const selection = panel.selection();
        if (!selection) return;
        const groups = recordGroups(selection.runs, labelOf);
        let files: { runIds: string[]; typeProcess?: IRecordGroup['typeProcess']; types: string[] }[];
        if (format === 'boamps') {
          // A BoAmps report covers one process type: with both, the user chooses (both by default, one file each).
          let chosen = groups;
          if (groups.length > 1) {
            const choice = new RecordChoice(
              groups,
              trans,
              trans.__(
                'These runs make two records. A BoAmps report covers one: each ticked record is saved as its own file.',
              ),
            );
            const result = await showDialog({
              title: trans.__('Export BoAmps reports'),
              body: choice,
              buttons: [
                Dialog.cancelButton({ label: trans.__('Cancel') }),
                Dialog.okButton({ label: trans.__('Export') }),
              ],
            });
            if (!result.button.accept) return;
            chosen = result.value ?? [];
            if (chosen.length === 0) return;
          }
          files = chosen.map(g => ({
            runIds: g.runs.map(r => r.id),
            typeProcess: g.typeProcess,
            types: [g.typeProcess],
          }));
        } else {
          files = [{ runIds: selection.runIds ?? [], types: groups.map(g => g.typeProcess) }];
        }
        const names: string[] = [];
        try {
          for (const file of files) {
            const name = exportName(format, selection.notebookPath, file.types);
            const request = {
              format,
              runIds: file.runIds,
              ...(file.typeProcess ? { typeProcess: file.typeProcess } : {}),
            };
            names.push(await downloadExport(request, serverSettings, name));
          }
          Notification.success(trans.__('Saved %1 (%2).', names.join(', '), selection.description), {
            autoClose: 4000,
          });
        } catch (error) {
          Notification.error(trans.__('Export failed: %1', describe(error, selection.runs)), { autoClose: false });
        }
      },
    });
  exportCommand(CommandIDs.exportCsv, 'csv', trans.__('Export runs as PNAV CSV'));
  exportCommand(CommandIDs.exportJson, 'json', trans.__('Export runs as PNAV JSON'));
  exportCommand(CommandIDs.exportBoamps, 'boamps', trans.__('Export runs as BoAmps reports'));

  commands.addCommand(CommandIDs.upload, {
    label: trans.__('Upload runs to PNAV…'),
    isEnabled: hasSelection,
    execute: async () => {
      const selection = panel.selection();
      if (!selection) return;
      const runs = selection.runs;
      const form = new UploadForm({
        trans,
        scopeText: trans.__('Upload %1 to PNAV.', selection.description),
        groups: recordGroups(runs, labelOf),
        endpointUrl: settings.current.uploadEndpointUrl,
        modelId: settings.current.uploadModelId,
        preview: (group, modelId) =>
          previewRecord({ runIds: group.runs.map(r => r.id) }, group.typeProcess, serverSettings, modelId ?? undefined),
        submit: (value, group, resend) =>
          createUpload(
            {
              ...value,
              runIds: group.runs.map(r => r.id),
              recordFailed: group.runs.some(r => r.status !== 'ok'),
              typeProcess: group.typeProcess,
              ...(resend ? { resend: true } : {}),
            },
            serverSettings,
          ),
        describeError: error => describe(error, runs),
      });
      // The form keeps the dialog open until every ticked record is queued, then closes it.
      await showDialog({
        title: trans.__('Upload to PNAV'),
        body: form,
        buttons: [Dialog.cancelButton({ label: trans.__('Cancel') }), Dialog.okButton({ label: trans.__('Upload') })],
        focusNodeSelector: 'input[name="token"]',
      });
      form.clearToken();
      const queued = form.queued;
      if (queued.length > 0) {
        panel.uploads.track(queued);
        shell.activateById(panel.id);
      }
    },
  });

  commands.addCommand(CommandIDs.togglePause, {
    label: trans.__('Pause or resume the live power chart'),
    isToggled: () => panel.paused,
    execute: () => panel.togglePause(),
  });

  panel.uploads.actions = uploadActions(trans, serverSettings, panel);
  panel.selectionChanged.connect(() => notifyEnabled(app));
  panel.model.changed.connect(() => notifyEnabled(app));

  if (palette) {
    for (const command of Object.values(CommandIDs)) {
      palette.addItem({ command, category: PALETTE_CATEGORY });
    }
  }
}

/** Retry, send again and cancel, from the panel's upload rows and from the notifications. */
function uploadActions(
  trans: TranslationBundle,
  serverSettings: JupyterFrontEnd['serviceManager']['serverSettings'],
  panel: PnavPanel,
): IUploadActions {
  const notes = new Map<string, string>();
  const hostOf = (upload: IUpload) => {
    try {
      return new URL(upload.endpointUrl).host;
    } catch {
      return upload.endpointUrl;
    }
  };
  const fail = (what: string) => (error: unknown) =>
    Notification.error(trans.__('%1 failed: %2', what, errorMessage(error)), { autoClose: false });
  // One notification per upload: the previous one goes when the status changes (an updated toast
  // keeps its old actions and does not close by itself).
  const show = (
    upload: IUpload,
    type: Notification.TypeOptions,
    message: string,
    options: Notification.IOptions<null>,
  ) => {
    const previous = notes.get(upload.id);
    if (previous) Notification.dismiss(previous);
    notes.set(upload.id, Notification.emit(message, type, options));
  };
  const actions: IUploadActions = {
    retryNow: upload => {
      retryUpload(upload.id, null, serverSettings)
        .then(next => panel.uploads.track([next]))
        .catch(fail(trans.__('Retry')));
    },
    sendAgain: async upload => {
      let label = trans.__('Token (a failed upload does not keep it)');
      for (let tries = 0; tries < 3; tries++) {
        const answer = await InputDialog.getPassword({
          title: trans.__('Send the %1 record to %2 again', trans.__(upload.typeProcess), hostOf(upload)),
          label,
          okLabel: trans.__('Send'),
        });
        if (!answer.button.accept || answer.value === null) return;
        const token = validateToken(answer.value);
        if (!token.ok) {
          label = trans.__(token.message);
          continue;
        }
        try {
          panel.uploads.track([await retryUpload(upload.id, token.value, serverSettings)]);
        } catch (error) {
          fail(trans.__('Sending again'))(error);
        }
        return;
      }
    },
    cancel: upload => {
      cancelUpload(upload.id, serverSettings)
        .then(next => panel.uploads.track([next]))
        .catch(fail(trans.__('Cancel')));
    },
    changed: (upload, previous) => {
      const type = trans.__(upload.typeProcess);
      const host = hostOf(upload);
      // Short: JupyterLab cuts a toast at 140 characters. The panel's upload row gives the full reason.
      const short = uploadProblemShort(upload);
      const reason = trans.__(short.text, ...short.args);
      if (upload.status === 'sent') {
        show(upload, 'success', trans.__('The %1 record was sent to %2.', type, host), { autoClose: 5000 });
      } else if (upload.status === 'failed' && short.text === 'cancelled') {
        // The user's own doing: said briefly, not as an error that waits to be dismissed.
        show(upload, 'info', trans.__('The %1 record was cancelled; nothing was sent.', type), { autoClose: 4000 });
      } else if (upload.status === 'failed') {
        show(upload, 'error', trans.__('The %1 record was not sent to %2: %3.', type, host, reason), {
          autoClose: false,
          actions: [{ label: trans.__('Send again…'), callback: () => void actions.sendAgain(upload) }],
        });
      } else if (upload.status === 'retrying' || upload.status === 'uncertain') {
        const next = upload.nextAttemptAt ? new Date(upload.nextAttemptAt).toLocaleTimeString() : '';
        show(
          upload,
          'warning',
          trans.__('The %1 record is not sent yet to %2: %3. Next try at %4.', type, host, reason, next),
          {
            autoClose: 10_000,
            actions: [
              { label: trans.__('Retry now'), callback: () => actions.retryNow(upload) },
              { label: trans.__('Cancel'), callback: () => actions.cancel(upload) },
            ],
          },
        );
      } else if (previous === undefined) {
        show(upload, 'info', trans.__('Sending the %1 record to %2…', type, host), {
          autoClose: 5000,
          actions: [{ label: trans.__('Cancel'), callback: () => actions.cancel(upload) }],
        });
      }
    },
  };
  return actions;
}

/** Re-evaluates the export commands' enabled state (toolbar buttons, palette). */
function notifyEnabled(app: JupyterFrontEnd): void {
  for (const id of [CommandIDs.exportCsv, CommandIDs.exportJson, CommandIDs.exportBoamps, CommandIDs.upload]) {
    app.commands.notifyCommandChanged(id);
  }
}
