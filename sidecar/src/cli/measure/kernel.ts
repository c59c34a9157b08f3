/**
 * One kernel driven through `@jupyterlab/services`, as JupyterLab drives it: a notebook session
 * (so the kernel gets JPY_SESSION_NAME), execute requests carrying the cell id in their metadata,
 * interrupts, and a clear signal when the kernel dies under a cell.
 */
import {
  type Kernel,
  KernelManager,
  type KernelMessage,
  ServerConnection,
  type Session,
  SessionManager,
} from '@jupyterlab/services';
import { WebSocket } from 'ws';
import type { JupyterConnection } from './jupyter-server.js';
import { type NbOutput, OutputCollector } from './outputs.js';

/** How long an interrupted cell gets to finish (the magic closes its run) before we stop waiting. */
const INTERRUPT_GRACE_MS = 10_000;

export type ExecutionStatus = 'ok' | 'error' | 'interrupted' | 'timeout' | 'kernel-died';

export interface Execution {
  status: ExecutionStatus;
  executionCount: number | null;
  outputs: NbOutput[];
  error: { ename: string; evalue: string; traceback: string[] } | null;
  wallS: number;
}

export interface ExecuteOptions {
  cellId: string;
  timeoutMs?: number;
  /** Aborted on SIGINT / SIGTERM: the kernel is interrupted and the cell reported as interrupted. */
  signal?: AbortSignal;
}

export interface StartKernelOptions {
  kernelName?: string;
  /** The notebook's path relative to the server root: becomes the kernel's JPY_SESSION_NAME and cwd. */
  path: string;
}

export function serverSettings(connection: JupyterConnection): ServerConnection.ISettings {
  return ServerConnection.makeSettings({
    baseUrl: connection.baseUrl,
    wsUrl: connection.baseUrl.replace(/^http/, 'ws'),
    token: connection.token,
    appendToken: true,
    // Node has no DOM WebSocket; `ws` speaks the same API.
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    fetch: globalThis.fetch,
  });
}

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<void>(resolve => {
    timer = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

export class KernelDriver {
  private died = false;
  private readonly deathWaiters = new Set<() => void>();

  private constructor(
    private readonly kernelManager: KernelManager,
    private readonly sessionManager: SessionManager,
    private readonly session: Session.ISessionConnection,
    readonly kernel: Kernel.IKernelConnection,
  ) {
    kernel.statusChanged.connect((_, status) => {
      // With restarts disabled the server reports a crashed kernel as dead; a restart would
      // silently continue on a blank kernel, which for a measurement is the same loss.
      if (status === 'dead' || status === 'autorestarting' || status === 'restarting') this.markDead();
    });
  }

  static async start(connection: JupyterConnection, options: StartKernelOptions): Promise<KernelDriver> {
    const settings = serverSettings(connection);
    const kernelManager = new KernelManager({ serverSettings: settings });
    const sessionManager = new SessionManager({ kernelManager, serverSettings: settings });
    await sessionManager.ready;
    const session = await sessionManager.startNew({
      path: options.path,
      type: 'notebook',
      name: options.path,
      kernel: options.kernelName ? { name: options.kernelName } : {},
    });
    const kernel = session.kernel;
    if (!kernel) throw new Error('the Jupyter server started a session without a kernel');
    await kernel.info;
    return new KernelDriver(kernelManager, sessionManager, session, kernel);
  }

  get kernelId(): string {
    return this.kernel.id;
  }

  get isDead(): boolean {
    return this.died;
  }

  private markDead() {
    if (this.died) return;
    this.died = true;
    for (const waiter of this.deathWaiters) waiter();
  }

  private deathPromise(): { promise: Promise<'kernel-died'>; cancel(): void } {
    let waiter: () => void = () => {};
    const promise = new Promise<'kernel-died'>(resolve => {
      waiter = () => resolve('kernel-died');
      if (this.died) resolve('kernel-died');
    });
    this.deathWaiters.add(waiter);
    return { promise, cancel: () => this.deathWaiters.delete(waiter) };
  }

  /** Runs code silently (no outputs kept, no execution count): setup such as `%load_ext`. */
  async runSetup(code: string): Promise<{ ok: boolean; message: string }> {
    const future = this.kernel.requestExecute({ code, silent: false, store_history: false, allow_stdin: false });
    const collector = new OutputCollector();
    future.onIOPub = msg => collector.handle(msg);
    const reply = await future.done;
    const content = reply.content as KernelMessage.IExecuteReplyMsg['content'];
    if (content.status === 'ok') return { ok: true, message: '' };
    const error = collector.outputs.find(output => output.output_type === 'error');
    return { ok: false, message: error ? `${error.ename}: ${error.evalue}` : content.status };
  }

  async execute(code: string, options: ExecuteOptions): Promise<Execution> {
    const started = performance.now();
    const collector = new OutputCollector();
    const future = this.kernel.requestExecute(
      { code, silent: false, store_history: true, allow_stdin: false, stop_on_error: true },
      true,
      // JupyterLab sends the cell id the same way; the magic reads it from here.
      { cellId: options.cellId },
    );
    future.onIOPub = msg => collector.handle(msg);
    const done = future.done.then(
      reply => reply.content as KernelMessage.IExecuteReplyMsg['content'],
      () => 'canceled' as const,
    );
    const death = this.deathPromise();
    const timeout = delay(options.timeoutMs ?? 2 ** 31 - 1);
    let onAbort: () => void = () => {};
    const aborted = new Promise<'interrupted'>(resolve => {
      onAbort = () => resolve('interrupted');
      if (options.signal?.aborted) resolve('interrupted');
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });

    let status: ExecutionStatus;
    let reply: KernelMessage.IExecuteReplyMsg['content'] | undefined;
    try {
      const first = await Promise.race([done, death.promise, aborted, timeout.promise.then(() => 'timeout' as const)]);
      if (first === 'kernel-died' || first === 'interrupted' || first === 'timeout') {
        status = first;
        if (first !== 'kernel-died') {
          // Interrupt like the lab's stop button: the magic sees KeyboardInterrupt and closes its run.
          await this.kernel.interrupt().catch(() => undefined);
          const grace = delay(INTERRUPT_GRACE_MS);
          const settled = await Promise.race([done, death.promise, grace.promise.then(() => 'gone' as const)]);
          grace.cancel();
          if (settled === 'kernel-died') status = 'kernel-died';
          else if (settled !== 'gone' && settled !== 'canceled') reply = settled;
        }
      } else if (first === 'canceled') {
        status = this.died ? 'kernel-died' : 'interrupted';
      } else {
        reply = first;
        status = first.status === 'ok' ? 'ok' : 'error';
      }
    } finally {
      death.cancel();
      timeout.cancel();
      options.signal?.removeEventListener('abort', onAbort);
    }
    const errorOutput = collector.outputs.find(output => output.output_type === 'error');
    return {
      status,
      executionCount: reply?.execution_count ?? null,
      outputs: collector.outputs,
      error: errorOutput
        ? { ename: errorOutput.ename, evalue: errorOutput.evalue, traceback: errorOutput.traceback }
        : null,
      wallS: (performance.now() - started) / 1000,
    };
  }

  /** Shuts the kernel down (unless it is already gone) and stops the managers' background polling. */
  async shutdown(): Promise<void> {
    try {
      if (!this.died) await this.session.shutdown();
    } catch {
      // The server may already be gone (SIGTERM to the whole process group); nothing left to stop.
    } finally {
      this.session.dispose();
      this.sessionManager.dispose();
      this.kernelManager.dispose();
    }
  }
}
