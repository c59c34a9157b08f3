/**
 * V8 heap settings of the long-lived sidecar process. Its allocation rate is low (a few kB per
 * tick and per request), but what survives (the chart buffer, runs) makes V8 grow the young
 * generation step by step to its 2 × 16 MB maximum, all of it resident once touched: ~30 MB
 * for nothing. A growth factor of 1 keeps the young generation at its initial size; scavenges
 * come more often and stay short. Set from within the process (no NODE_OPTIONS, no re-exec),
 * first thing, before the heap has grown: cli-preamble.ts.
 */
import v8 from 'node:v8';

let tuned = false;

export function tuneHeapForSidecar(): void {
  if (tuned) return;
  tuned = true;
  // Read by V8 each time it considers growing new space, so it applies from here on.
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}
