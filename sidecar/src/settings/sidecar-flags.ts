/**
 * The settings that `pnav sidecar`'s own flags give (layer `sidecar:--flag`, just above the
 * built-in defaults). Values equal to the built-in default are left out: the startup config
 * cannot tell a flag given as `--pue 1` from no flag, and either way the default applies.
 */
import type { SidecarConfig } from '../config.js';
import { SETTINGS, type SettingKey } from './definitions.js';

export function settingsFromSidecarConfig(
  config: Pick<SidecarConfig, 'country' | 'pue' | 'gpuIds' | 'sampleIntervalMs'>,
): Partial<Record<SettingKey, unknown>> {
  const out: Partial<Record<SettingKey, unknown>> = {};
  if (config.country) out.country = config.country;
  if (config.pue !== SETTINGS.pue.default) out.pue = config.pue;
  if (config.gpuIds && config.gpuIds.length > 0) out.gpu_ids = config.gpuIds;
  if (config.sampleIntervalMs !== SETTINGS.sample_interval_ms.default) out.sample_interval_ms = config.sampleIntervalMs;
  return out;
}
