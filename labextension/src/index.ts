/**
 * PNAV Lab for JupyterLab: the plugins. Activation never waits on the
 * network: the sidecar connection starts in the background and the panel
 * says when it is unreachable.
 */
import { ILayoutRestorer, type JupyterFrontEnd, type JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, IThemeManager } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { CellTracker } from './cellTracker';
import { CommandIDs, registerCommands } from './commands';
import { KernelLoader } from './kernelLoader';
import { PnavPanel } from './panel/panel';
import { SettingsHolder } from './settings';
import { PnavStatusItem } from './statusItem';
import { SidecarStream } from './stream';
import { IPnavContext } from './tokens';

const PACKAGE = 'pnav-lab-labextension';

/** Connection, settings, side panel and commands. */
const corePlugin: JupyterFrontEndPlugin<IPnavContext> = {
  id: `${PACKAGE}:plugin`,
  description: 'The PNAV Lab side panel: live power, runs, epochs, export and upload.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, ITranslator, ICommandPalette, ILayoutRestorer, IThemeManager, IStatusBar],
  provides: IPnavContext,
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    themes: IThemeManager | null,
    statusBar: IStatusBar | null,
  ): IPnavContext => {
    const trans = (translator ?? nullTranslator).load('pnav_lab');
    const serverSettings = app.serviceManager.serverSettings;
    const settings = new SettingsHolder();
    const stream = new SidecarStream({ serverSettings });
    stream.start();
    registry
      ?.load(corePlugin.id)
      .then(loaded => {
        settings.update(loaded.composite);
        loaded.changed.connect(() => settings.update(loaded.composite));
      })
      .catch(reason => console.warn('PNAV Lab: settings could not be loaded; using defaults.', reason));

    const panel = new PnavPanel({
      stream,
      settings,
      trans,
      tracker,
      commands: app.commands,
      commandIds: {
        exportCsv: CommandIDs.exportCsv,
        exportJson: CommandIDs.exportJson,
        exportBoamps: CommandIDs.exportBoamps,
        upload: CommandIDs.upload,
      },
    });
    app.shell.add(panel, 'right', { rank: 900 });
    restorer?.add(panel, panel.id);
    themes?.themeChanged.connect(() => panel.chart.refreshTheme());
    registerCommands({ app, panel, settings, trans, palette });
    if (statusBar) {
      const item = new PnavStatusItem(trans, () => void app.commands.execute(CommandIDs.openPanel));
      stream.sample.connect((_, sample) => item.addSample(sample));
      stream.status.connect((_, status) => {
        item.status = status;
      });
      item.status = stream.lastStatus;
      settings.changed.connect(() => {
        item.units = settings.current;
      });
      statusBar.registerStatusItem(`${PACKAGE}:status`, { item, align: 'left', rank: 900 });
    }
    return { serverSettings, stream, settings, trans };
  },
};

/** Cell markers, lines under measured cells, metadata summaries and the kernel extension. */
const cellsPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PACKAGE}:cells`,
  description: 'Marks %%pnav cells and shows their energy under them; loads the kernel extension.',
  autoStart: true,
  requires: [INotebookTracker, IPnavContext],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker, context: IPnavContext): void => {
    new CellTracker({ tracker, stream: context.stream, settings: context.settings, trans: context.trans });
    new KernelLoader(tracker, context.settings);
  },
};

export default [corePlugin, cellsPlugin];
