/**
 * The machine's IANA time zone (for the last-resort country guess) without loading ICU:
 * `Intl.DateTimeFormat().resolvedOptions()` maps ICU's locale and zone data, ~7 MB resident for
 * the sidecar's whole life. The same answer comes from TZ, the /etc/localtime link or
 * /etc/timezone; Intl is asked only when none of them names a zone.
 */
import fs from 'node:fs';

const IANA = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

export interface TimeZoneSources {
  env?: Record<string, string | undefined>;
  /** Root of the filesystem to read /etc from (tests). */
  root?: string;
  intl?: () => string | undefined;
}

export function systemTimeZone(sources: TimeZoneSources = {}): string | undefined {
  const env = sources.env ?? process.env;
  const root = sources.root ?? '';
  const fromEnv = env.TZ?.replace(/^:/, '').trim();
  // TZ may also be a POSIX rule ("CET-1CEST,M3.5.0,M10.5.0/3") or a file path: only a zone name is used.
  if (fromEnv && IANA.test(fromEnv)) return fromEnv;
  if (fromEnv?.includes('zoneinfo/')) return zoneOfPath(fromEnv) ?? intlZone(sources);
  try {
    const zone = zoneOfPath(fs.readlinkSync(`${root}/etc/localtime`));
    if (zone) return zone;
  } catch {
    // not a link (a copied file in some images): try /etc/timezone
  }
  try {
    const zone = fs.readFileSync(`${root}/etc/timezone`, 'utf8').trim();
    if (IANA.test(zone)) return zone;
  } catch {
    // absent on most non-Debian systems
  }
  return intlZone(sources);
}

function zoneOfPath(p: string): string | undefined {
  const at = p.lastIndexOf('zoneinfo/');
  if (at < 0) return undefined;
  const zone = p.slice(at + 'zoneinfo/'.length).replace(/^(posix|right)\//, '');
  return IANA.test(zone) ? zone : undefined;
}

function intlZone(sources: TimeZoneSources): string | undefined {
  try {
    return (sources.intl ?? (() => Intl.DateTimeFormat().resolvedOptions().timeZone))();
  } catch {
    return undefined;
  }
}
