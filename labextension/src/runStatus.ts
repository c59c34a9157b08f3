/**
 * What a run's status means to the user: its name (an open run is "running"), and whether its
 * figures count in totals and default exports. Only finished runs do: a failed or interrupted
 * cell measured a partial workload, a running one is not over.
 *
 * Pure.
 */
import type { RunStatus } from './types';

export const STATUS_NAMES: Record<RunStatus, string> = {
  open: 'running',
  ok: 'ok',
  error: 'error',
  interrupted: 'interrupted',
};

/** A badge beside the run for anything but a finished run. */
export function statusBadge(status: RunStatus): string | null {
  return status === 'ok' ? null : STATUS_NAMES[status];
}

/** Counted in totals, and exported or uploaded when no run is ticked, unless the user includes the others. */
export function countsByDefault(status: RunStatus, includeUnfinished: boolean): boolean {
  if (status === 'ok') return true;
  return includeUnfinished && status !== 'open';
}
