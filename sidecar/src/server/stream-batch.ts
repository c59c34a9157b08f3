/**
 * The tick's stream messages, sent in batches: at 10 Hz sampling, samples are collected and sent
 * every flushMs together with one progress message per open run (its figures at the latest reading),
 * one socket write per client per batch. At sampling intervals of flushMs or more, each tick is sent
 * as it comes. A frame's content is what it would have been; only the timing is grouped.
 */
import type { Run, Sample, StreamMessage } from '../api/schemas.js';

export const STREAM_FLUSH_MS = 500;

export interface StreamBatchDeps {
  send: (messages: StreamMessage[]) => void;
  /** The open runs with their figures now, for 'progress' messages. */
  progress: () => Run[];
  intervalMs: number;
  flushMs?: number;
}

export class StreamBatch {
  private samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly flushMs: number;

  constructor(private readonly deps: StreamBatchDeps) {
    this.flushMs = deps.flushMs ?? STREAM_FLUSH_MS;
  }

  add(sample: Sample): void {
    this.samples.push(sample);
    if (this.deps.intervalMs >= this.flushMs) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.samples.length === 0) return;
    const messages: StreamMessage[] = this.samples.map(sample => ({ type: 'sample', sample }));
    this.samples = [];
    for (const run of this.deps.progress()) messages.push({ type: 'run', event: 'progress', run });
    this.deps.send(messages);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.samples = [];
  }
}
