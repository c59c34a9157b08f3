/**
 * The live feed from the sidecar: the WebSocket `pnav/api/v1/stream` through
 * the Jupyter server's proxy, reconnected with back-off. While the socket is
 * down, a `Poll` (also backing off) fetches samples and open runs over HTTP so
 * the panel and the cell lines keep moving.
 */
import type { ServerConnection } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { type ISignal, Signal } from '@lumino/signaling';
import { requestAPI, wsApiUrl } from './request';
import type { IRun, ISample, IStatus, RunEvent, StreamMessage } from './types';

/** `live`: WebSocket open. `polling`: socket down, HTTP works. `unreachable`: neither answers. */
export type ConnectionState = 'connecting' | 'live' | 'polling' | 'unreachable';

export interface IRunEventArgs {
  event: RunEvent;
  run: IRun;
}

export interface ISidecarStreamOptions {
  serverSettings: ServerConnection.ISettings;
  /** The WebSocket class; the browser's by default (tests pass `ws`'s). */
  WebSocket?: typeof WebSocket;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  pollIntervalMs?: number;
}

const MAX_POLL_MS = 30_000;

export class SidecarStream implements IDisposable {
  constructor(options: ISidecarStreamOptions) {
    this._settings = options.serverSettings;
    this._WebSocket = options.WebSocket ?? options.serverSettings.WebSocket;
    this._reconnectMinMs = options.reconnectMinMs ?? 1000;
    this._reconnectMaxMs = options.reconnectMaxMs ?? 30_000;
    this._poll = new Poll({
      auto: false,
      factory: () => this._pollOnce(),
      frequency: { interval: options.pollIntervalMs ?? 2000, backoff: true, max: MAX_POLL_MS },
      name: 'pnav-lab:stream-fallback',
      standby: 'when-hidden',
    });
    this._poll.ticked.connect((_, tick) => {
      if (this._state === 'live') return;
      if (tick.phase === 'resolved') this._setState('polling');
      if (tick.phase === 'rejected') this._setState('unreachable');
    });
  }

  get serverSettings(): ServerConnection.ISettings {
    return this._settings;
  }

  get state(): ConnectionState {
    return this._state;
  }

  get stateChanged(): ISignal<this, ConnectionState> {
    return this._stateChanged;
  }

  /** One power sample per sidecar tick. */
  get sample(): ISignal<this, ISample> {
    return this._sample;
  }

  get runEvent(): ISignal<this, IRunEventArgs> {
    return this._runEvent;
  }

  /** The sidecar's status, on each (re)connection. */
  get status(): ISignal<this, IStatus> {
    return this._status;
  }

  get lastStatus(): IStatus | null {
    return this._lastStatus;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Opens the socket; never throws, never blocks. */
  start(): void {
    if (!this._disposed && this._socket === null && this._timer === null) {
      this._connect();
    }
  }

  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
    this._closeSocket();
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _connect(): void {
    this._timer = null;
    this._setState(this._state === 'live' ? 'connecting' : this._state);
    let socket: WebSocket;
    try {
      socket = new this._WebSocket(wsApiUrl(this._settings, 'stream'));
    } catch {
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      this._attempt = 0;
      this._poll.stop().catch(() => undefined);
      this._setState('live');
    };
    socket.onmessage = event => {
      if (typeof event.data === 'string') this._handle(event.data);
    };
    socket.onclose = () => {
      if (this._socket !== socket) return;
      this._socket = null;
      if (this._disposed) return;
      if (this._state === 'live') this._setState('connecting');
      this._startFallback();
      this._scheduleReconnect();
    };
    socket.onerror = () => {
      // onclose follows and does the work.
    };
  }

  private _handle(data: string): void {
    let message: StreamMessage;
    try {
      message = JSON.parse(data) as StreamMessage;
    } catch {
      return;
    }
    switch (message.type) {
      case 'hello':
        this._lastStatus = message.status;
        this._status.emit(message.status);
        break;
      case 'sample':
        this._lastSampleT = Math.max(this._lastSampleT, message.sample.t);
        this._sample.emit(message.sample);
        break;
      case 'run':
        this._trackOpen(message.run);
        this._runEvent.emit({ event: message.event, run: message.run });
        break;
    }
  }

  private _trackOpen(run: IRun): void {
    if (run.status === 'open') this._openRunIds.add(run.id);
    else this._openRunIds.delete(run.id);
  }

  private _scheduleReconnect(): void {
    if (this._disposed || this._timer !== null) return;
    const base = Math.min(this._reconnectMaxMs, this._reconnectMinMs * 2 ** this._attempt);
    this._attempt++;
    // Jitter so many tabs do not reconnect in lock-step after a sidecar restart.
    const delay = base * (0.75 + Math.random() * 0.5);
    this._timer = setTimeout(() => this._connect(), delay);
  }

  private _startFallback(): void {
    this._poll.start().catch(() => undefined);
    this._poll.refresh().catch(() => undefined);
  }

  /** One HTTP round while the socket is down: status once, new samples, open runs and the ones that closed. */
  private async _pollOnce(): Promise<void> {
    if (this._lastStatus === null) {
      const status = await requestAPI<IStatus>('status', {}, this._settings);
      this._lastStatus = status;
      this._status.emit(status);
    }
    const since = this._lastSampleT > 0 ? `?sinceMs=${this._lastSampleT + 1}` : '';
    const { samples } = await requestAPI<{ samples: ISample[] }>(`samples${since}`, {}, this._settings);
    for (const sample of samples) {
      if (sample.t > this._lastSampleT) {
        this._lastSampleT = sample.t;
        this._sample.emit(sample);
      }
    }
    const { runs } = await requestAPI<{ runs: IRun[] }>('runs?status=open&limit=100', {}, this._settings);
    const stillOpen = new Set(runs.map(run => run.id));
    for (const id of this._openRunIds) {
      if (!stillOpen.has(id)) {
        const { run } = await requestAPI<{ run: IRun }>(`runs/${encodeURIComponent(id)}`, {}, this._settings);
        this._trackOpen(run);
        this._runEvent.emit({ event: 'closed', run });
      }
    }
    for (const run of runs) {
      const event: RunEvent = this._openRunIds.has(run.id) ? 'progress' : 'opened';
      this._trackOpen(run);
      this._runEvent.emit({ event, run });
    }
  }

  private _closeSocket(): void {
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
      socket.close();
    }
  }

  private _setState(state: ConnectionState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _settings: ServerConnection.ISettings;
  private _WebSocket: typeof WebSocket;
  private _reconnectMinMs: number;
  private _reconnectMaxMs: number;
  private _poll: Poll;
  private _socket: WebSocket | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _attempt = 0;
  private _disposed = false;
  private _state: ConnectionState = 'connecting';
  private _lastStatus: IStatus | null = null;
  private _lastSampleT = 0;
  private _openRunIds = new Set<string>();
  private _stateChanged = new Signal<this, ConnectionState>(this);
  private _sample = new Signal<this, ISample>(this);
  private _runEvent = new Signal<this, IRunEventArgs>(this);
  private _status = new Signal<this, IStatus>(this);
}
