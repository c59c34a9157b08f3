/**
 * Closes runs whose kernel died mid-cell. A kernel killed by the OOM killer or `kill -9` never
 * sends its close request, so without this its run would stay open forever. Every `intervalMs`
 * the reaper checks the pid each open run gave (OpenRunRequest.pid) and closes the run as
 * `interrupted` once that process is gone.
 *
 * It also closes runs open longer than `maxRunAgeS` (a client that never closes, without a pid).
 *
 * Two guards against closing a live run:
 * - a pid that did not exist when the reaper first saw the run (a kernel in another pid
 *   namespace, a container) is never reaped: we cannot tell it from a dead one;
 * - a pid reused by another process is detected by its start time (/proc/<pid>/stat field 22).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Run } from '../api/schemas.js';

/** What a sweep needs of an open run: no figures (computing them for 10,000 open runs each second would cost a core). */
export interface OpenRunBrief {
  id: string;
  pid: number | null;
  /** Date.now() clock. */
  startedMs: number;
}

export interface ReapableLedger {
  openRunsBrief(): readonly OpenRunBrief[];
  closeRun(id: string, req: { status: 'interrupted'; error: string }): Promise<unknown>;
  /** When present, the reaper notes each kernel's identity as its run opens (before the first sweep). */
  onEvent?(listener: (event: string, run: Run) => void): () => void;
}

export interface ReaperOptions {
  intervalMs?: number;
  /** Close runs open longer than this as interrupted (0 or absent: never). */
  maxRunAgeS?: number;
  /** Root of the proc filesystem (tests may point it at a fake tree). */
  procRoot?: string;
  log?: (msg: string) => void;
}

/** A process's identity: its start time in clock ticks since boot, or null when it does not exist. */
export function processStartTicks(procRoot: string, pid: number): string | null {
  let stat: string;
  try {
    stat = fs.readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: fields restart after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); a zombie has exited, its parent just has not reaped it yet.
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  return rest[19] ?? null; // field 22 (starttime)
}

export class RunReaper {
  /** run id -> start ticks of its pid when first seen, or null when it was never alive to us. */
  private readonly seen = new Map<string, string | null>();
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly intervalMs: number;
  private readonly procRoot: string;
  private readonly maxRunAgeS: number;
  private readonly log: (msg: string) => void;

  constructor(
    private readonly ledger: ReapableLedger,
    opts: ReaperOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.procRoot = opts.procRoot ?? '/proc';
    this.maxRunAgeS = opts.maxRunAgeS ?? 0;
    this.log = opts.log ?? (() => {});
  }

  start(): this {
    this.unsubscribe ??=
      this.ledger.onEvent?.((event, run) => {
        if (event === 'opened' && run.pid !== null) this.note(run.id, run.pid);
      }) ?? null;
    this.timer ??= setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Records the identity of a run's process; a kernel killed before the first sweep is still caught. */
  note(runId: string, pid: number): void {
    if (!this.seen.has(runId)) this.seen.set(runId, processStartTicks(this.procRoot, pid));
  }

  /** One pass: closes the open runs whose process is gone, or that are too old. Returns the ids it closed. */
  async sweep(): Promise<string[]> {
    const open = this.ledger.openRunsBrief();
    if (this.seen.size > 0) {
      const openIds = new Set<string>();
      for (const run of open) if (run.pid !== null) openIds.add(run.id);
      for (const id of this.seen.keys()) if (!openIds.has(id)) this.seen.delete(id);
    }
    const closed: string[] = [];
    const nowMs = Date.now();
    // Many runs of one kernel share its pid: one /proc read per pid and sweep.
    const ticksByPid = new Map<number, string | null>();
    for (const run of open) {
      if (this.maxRunAgeS > 0 && nowMs - run.startedMs > this.maxRunAgeS * 1000) {
        const reason = `the run was open longer than the maximum age (${this.maxRunAgeS} s, --max-run-age)`;
        if (await this.close(run.id, reason)) closed.push(run.id);
        continue;
      }
      if (run.pid === null) continue;
      const pid = run.pid;
      let now = ticksByPid.get(pid);
      if (now === undefined) {
        now = processStartTicks(this.procRoot, pid);
        ticksByPid.set(pid, now);
      }
      if (!this.seen.has(run.id)) {
        this.seen.set(run.id, now);
        continue;
      }
      const first = this.seen.get(run.id);
      if (first === null || now === first) continue;
      if (await this.close(run.id, `the kernel process (pid ${pid}) exited before the run closed`)) closed.push(run.id);
    }
    return closed;
  }

  private async close(id: string, error: string): Promise<boolean> {
    try {
      await this.ledger.closeRun(id, { status: 'interrupted', error });
      this.seen.delete(id);
      this.log(`run ${id}: ${error}; closed as interrupted`);
      return true;
    } catch (err) {
      this.log(`run ${id}: could not close it (${error}): ${(err as Error).message}`);
      return false;
    }
  }
}
