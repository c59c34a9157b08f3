/**
 * Order of ISO 8601 UTC timestamps (`2026-11-21T05:36:15.000Z`): they sort as plain strings.
 * Not localeCompare, which would load ICU's collation data (MBs resident) into the sidecar.
 */
export function byIso(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
