/**
 * Loads the kernel extension (the `%load_ext pnav_lab` loader) in Python kernels when
 * they start or restart, so `%%pnav` works in a new notebook without a setup
 * line. Executed silently: no cell output, no history entry.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import type { SettingsHolder } from './settings';

/**
 * Calls the loader directly instead of `%load_ext`: the extension manager then does not count it as
 * loaded, so a notebook's own `%load_ext pnav_lab` line (kept for plain Jupyter and VS Code) stays
 * silent instead of printing "already loaded".
 */
export const LOAD_CODE = "__import__('pnav_lab').load_ipython_extension(get_ipython())";

/** Tells the kernel whether the line under the cell shows the figures, so its printed summary is not a repeat. */
export function frontendLineCode(printKernelSummary: boolean): string {
  const drawn = printKernelSummary ? 'False' : 'True';
  return `import pnav_lab.summary as _pnav_summary\n_pnav_summary.set_frontend_line(${drawn})\ndel _pnav_summary`;
}

export class KernelLoader {
  constructor(
    private _tracker: INotebookTracker,
    private _settings: SettingsHolder,
  ) {
    this._tracker.widgetAdded.connect((_, panel) => this._watch(panel));
    this._settings.changed.connect(() => this._applyPrintSetting());
    this._tracker.forEach(panel => {
      this._watch(panel);
    });
  }

  private _watch(panel: NotebookPanel): void {
    const session = panel.sessionContext;
    session.kernelChanged.connect((_, change) => {
      if (change.newValue) this._load(change.newValue);
    });
    session.statusChanged.connect((context, status) => this._onStatus(context, status));
    session.ready.then(() => {
      const kernel = session.session?.kernel;
      if (kernel) this._load(kernel);
    });
  }

  /** A restart keeps the kernel connection but loses the extension: load again once it is idle. */
  private _onStatus(context: ISessionContext, status: Kernel.Status): void {
    const kernel = context.session?.kernel;
    if (!kernel) return;
    if (status === 'restarting' || status === 'autorestarting') {
      this._loaded.delete(kernel);
    } else if (status === 'idle' && !this._loaded.has(kernel)) {
      this._load(kernel);
    }
  }

  private _load(kernel: Kernel.IKernelConnection): void {
    if (!this._settings.current.loadKernelExtension || this._loaded.has(kernel) || kernel.isDisposed) return;
    this._loaded.add(kernel);
    kernel.info
      .then(info => {
        if (info.language_info.name !== 'python') return;
        const code = `${LOAD_CODE}\n${frontendLineCode(this._settings.current.printKernelSummary)}`;
        const future = kernel.requestExecute({ code, silent: true, store_history: false }, true);
        return future.done.then(reply => {
          if (reply.content.status !== 'ok') {
            const reason = reply.content.status === 'error' ? `${reply.content.ename}: ${reply.content.evalue}` : '';
            console.warn(`PNAV Lab: '${LOAD_CODE}' failed in kernel ${kernel.id}. ${reason}`);
          }
        });
      })
      .catch(error => {
        this._loaded.delete(kernel);
        console.warn('PNAV Lab: could not load the kernel extension.', error);
      });
  }

  /** The print setting changed: tell the kernels already loaded. */
  private _applyPrintSetting(): void {
    const code = frontendLineCode(this._settings.current.printKernelSummary);
    this._tracker.forEach(panel => {
      const kernel = panel.sessionContext.session?.kernel;
      if (kernel && this._loaded.has(kernel) && !kernel.isDisposed) {
        kernel.requestExecute({ code, silent: true, store_history: false }, true);
      }
    });
  }

  private _loaded = new WeakSet<Kernel.IKernelConnection>();
}
