/**
 * The palette commands and what they do: open the panel, export, upload,
 * pause the chart.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, type ICommandPalette, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { errorMessage } from './errors';
import { createUploads, downloadExport, previewRecord, uploadOutcome } from './outputs';
import type { PnavPanel } from './panel/panel';
import type { SettingsHolder } from './settings';
import type { ExportFormat } from './types';
import { UploadForm } from './uploadForm';
import { outcomeNote } from './uploadOutcome';

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

export function registerCommands({ app, panel, settings, trans, palette }: ICommandsOptions): void {
  const { commands, shell } = app;
  const serverSettings = app.serviceManager.serverSettings;
  const hasSelection = () => panel.selection() !== null;

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
        try {
          const { description, ...runs } = selection;
          const name = await downloadExport({ format, ...runs }, serverSettings);
          Notification.success(trans.__('Exported %1 to %2', description, name), { autoClose: 3000 });
        } catch (error) {
          Notification.error(trans.__('Export failed: %1', errorMessage(error)));
        }
      },
    });
  exportCommand(CommandIDs.exportCsv, 'csv', trans.__('Export runs as PNAV CSV'));
  exportCommand(CommandIDs.exportJson, 'json', trans.__('Export runs as PNAV JSON'));
  exportCommand(CommandIDs.exportBoamps, 'boamps', trans.__('Export runs as a BoAmps report'));

  const notifyOutcome = async (id: string): Promise<void> => {
    try {
      const note = outcomeNote(await uploadOutcome(id, serverSettings), trans);
      Notification[note.kind](note.text, { autoClose: note.kind === 'success' ? 5000 : false });
    } catch (error) {
      Notification.error(trans.__('Upload %1: no outcome yet (%2)', id, errorMessage(error)));
    }
  };

  commands.addCommand(CommandIDs.upload, {
    label: trans.__('Upload runs to PNAV…'),
    isEnabled: hasSelection,
    execute: async () => {
      const selection = panel.selection();
      if (!selection) return;
      const { description, ...runs } = selection;
      const form = new UploadForm({
        trans,
        scopeText: trans.__('Upload %1.', description),
        endpointUrl: settings.current.uploadEndpointUrl,
        modelId: settings.current.uploadModelId,
        preview: (typeProcess, recordFailed) => previewRecord(runs, typeProcess, serverSettings, recordFailed),
      });
      // The dialog keeps itself open while the form is invalid, then disposes the form.
      const result = await showDialog({
        title: trans.__('Upload to PNAV'),
        body: form,
        buttons: [Dialog.cancelButton({ label: trans.__('Cancel') }), Dialog.okButton({ label: trans.__('Upload') })],
        focusNodeSelector: 'input',
      });
      const value = result.value;
      if (!result.button.accept || !value) return;
      try {
        const uploads = await createUploads({ ...runs, ...value }, serverSettings);
        panel.uploads.track(uploads);
        shell.activateById(panel.id);
        // Never silent: the first outcome of each record, as calculadorapnav's synchronous POST tells it.
        for (const upload of uploads) void notifyOutcome(upload.id);
      } catch (error) {
        Notification.error(trans.__('Upload failed: %1', errorMessage(error)));
      }
    },
  });

  commands.addCommand(CommandIDs.togglePause, {
    label: trans.__('Pause or resume the live power chart'),
    isToggled: () => panel.paused,
    execute: () => panel.togglePause(),
  });

  panel.selectionChanged.connect(() => notifyEnabled(app));
  panel.model.changed.connect(() => notifyEnabled(app));

  if (palette) {
    for (const command of Object.values(CommandIDs)) {
      palette.addItem({ command, category: PALETTE_CATEGORY });
    }
  }
}

/** Re-evaluates the export commands' enabled state (toolbar buttons, palette). */
function notifyEnabled(app: JupyterFrontEnd): void {
  for (const id of [CommandIDs.exportCsv, CommandIDs.exportJson, CommandIDs.exportBoamps, CommandIDs.upload]) {
    app.commands.notifyCommandChanged(id);
  }
}
