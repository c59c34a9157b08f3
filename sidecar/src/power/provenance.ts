/**
 * How each chosen source's figures are obtained and what they cover, for every window's figures:
 * the basis is the source's own probe detail (the counter, or the model and its inputs); the scope
 * says whether the figure is the whole machine or an estimate scaled to a cgroup / SLURM share.
 */
import type { Component, SourceInfo } from '../api/schemas.js';
import type { PowerSource } from './source.js';

export interface ComponentProvenance {
  basis: string;
  scope: string;
}

export function componentProvenance(
  sources: readonly PowerSource[],
  info: readonly SourceInfo[],
  scope: { kind: string; detail: string },
  /** What the sidecar's GPU figures cover ('whole GPU', or the MIG note when it was given a slice). */
  gpuScope = 'whole GPU',
): (c: Component) => ComponentProvenance | undefined {
  const byComponent = new Map<Component, ComponentProvenance>();
  for (const source of sources) {
    if (byComponent.has(source.component)) continue;
    const detail = info.find(i => i.id === source.id && i.available)?.detail;
    // Counters measure whole devices; only the estimates are scaled to a cgroup or SLURM share.
    const scaled = !source.measured && source.method !== 'none' && scope.kind !== 'machine';
    byComponent.set(source.component, {
      basis: detail ?? source.method,
      scope: source.component === 'gpu' ? gpuScope : scaled ? `${scope.kind} share (${scope.detail})` : 'machine',
    });
  }
  return c => byComponent.get(c);
}
