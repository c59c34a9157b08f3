/**
 * Finds the RAPL domains to read under <sysfsRoot>/class/powercap, counting each joule once:
 * - packages: top-level zones named `package-N` (or `package-N-die-M`); `psys` excluded (it
 *   contains the packages), `core`/`uncore` subzones excluded (inside the package);
 * - `dram` subzones kept apart (not part of the package total), reported as the RAM component;
 * - `intel-rapl-mmio:*` zones dropped when an MSR `intel-rapl:*` zone has the same name;
 * - per-die mirrors: several package zones of one physical package (same name, or
 *   `package-P-die-D` with the same P) whose counters read identical at the same instant mirror one
 *   socket-wide counter (multi-die AMD, CodeCarbon #1274/#1379); only the first is kept. Zones of
 *   one package whose readings differ are real per-die counters and are summed.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface RaplDomain {
  /** Zone directory name, e.g. `intel-rapl:0`, `intel-rapl:0:2`. */
  zone: string;
  /** The zone's `name` file, e.g. `package-0`, `dram`. */
  name: string;
  kind: 'package' | 'dram';
  /** `package-0` for a package, `package-0/dram` for its DRAM subzone. */
  label: string;
  dir: string;
  energyPath: string;
  maxRangeUj: number;
}

export interface RaplDiscovery {
  powercapDir: string;
  exists: boolean;
  packages: RaplDomain[];
  dram: RaplDomain[];
  /** What was left out and why, for `pnav doctor`. */
  excluded: string[];
}

const TOP_ZONE = /^(intel-rapl|intel-rapl-mmio):(\d+)$/;
const SUB_ZONE = /^(intel-rapl|intel-rapl-mmio):(\d+):(\d+)$/;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function zoneOrder(a: string, b: string): number {
  const na = a.split(':').slice(1).map(Number);
  const nb = b.split(':').slice(1).map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/** Lists zone directories: the flat /sys/class/powercap links, and subzones nested inside zone dirs. */
function listZones(powercapDir: string): Map<string, string> {
  const zones = new Map<string, string>();
  const seenReal = new Set<string>();
  const add = (name: string, dir: string) => {
    let real = dir;
    try {
      real = realpathSync(dir);
    } catch {}
    if (seenReal.has(real) || zones.has(name)) return;
    seenReal.add(real);
    zones.set(name, dir);
  };
  for (const entry of readdirSync(powercapDir).sort(zoneOrder)) {
    const dir = join(powercapDir, entry);
    if ((TOP_ZONE.test(entry) || SUB_ZONE.test(entry)) && isDir(dir)) add(entry, dir);
  }
  // Nested layout (the real /sys/devices tree, or a copy of it): intel-rapl:0/intel-rapl:0:0.
  for (const [name, dir] of [...zones]) {
    if (!TOP_ZONE.test(name)) continue;
    for (const entry of readdirSync(dir).sort(zoneOrder)) {
      if (SUB_ZONE.test(entry) && entry.startsWith(`${name}:`) && isDir(join(dir, entry))) add(entry, join(dir, entry));
    }
  }
  return zones;
}

function physicalPackage(name: string): string | null {
  const m = /^package-(\d+)(?:-die-\d+)?$/.exec(name);
  return m ? m[1]! : null;
}

function makeDomain(zone: string, dir: string, name: string, kind: RaplDomain['kind'], label: string): RaplDomain {
  const maxRangeUj = Number(readText(join(dir, 'max_energy_range_uj')));
  return {
    zone,
    name,
    kind,
    label,
    dir,
    energyPath: join(dir, 'energy_uj'),
    maxRangeUj: Number.isFinite(maxRangeUj) && maxRangeUj > 0 ? maxRangeUj : Number.NaN,
  };
}

/** Reads each domain's raw counter back to back; null where unreadable. */
function snapshot(domains: RaplDomain[]): (string | null)[] {
  return domains.map(d => readText(d.energyPath));
}

function mirrored(domains: RaplDomain[]): boolean {
  // Two attempts: a counter update (every ~1 ms) may fall between the reads of one attempt.
  for (let attempt = 0; attempt < 2; attempt++) {
    const values = snapshot(domains);
    if (values[0] !== null && values.every(v => v === values[0])) return true;
  }
  return false;
}

export function discoverRapl(sysfsRoot: string): RaplDiscovery {
  const powercapDir = join(sysfsRoot, 'class', 'powercap');
  const result: RaplDiscovery = { powercapDir, exists: isDir(powercapDir), packages: [], dram: [], excluded: [] };
  if (!result.exists) return result;

  const zones = listZones(powercapDir);
  const tops = [...zones].filter(([zone]) => TOP_ZONE.test(zone));
  const msrNames = new Set(
    tops.filter(([zone]) => zone.startsWith('intel-rapl:')).map(([, dir]) => readText(join(dir, 'name'))),
  );

  const packages: RaplDomain[] = [];
  for (const [zone, dir] of tops) {
    const name = readText(join(dir, 'name')) ?? '';
    if (zone.startsWith('intel-rapl-mmio:') && msrNames.has(name)) {
      result.excluded.push(`${zone} (${name}): MMIO duplicate of the MSR zone`);
      continue;
    }
    if (physicalPackage(name) === null) {
      result.excluded.push(
        `${zone} (${name || 'no name'}): not a package domain${name === 'psys' ? ' (psys contains the packages)' : ''}`,
      );
      continue;
    }
    packages.push(makeDomain(zone, dir, name, 'package', name));
  }

  // Per-die mirrors: group by physical package, keep one zone when the group's counters are identical.
  const groups = new Map<string, RaplDomain[]>();
  for (const p of packages) {
    const key = physicalPackage(p.name)!;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  for (const group of groups.values()) {
    if (group.length > 1 && mirrored(group)) {
      result.packages.push(group[0]!);
      for (const dup of group.slice(1)) {
        result.excluded.push(
          `${dup.zone} (${dup.name}): mirrors ${group[0]!.zone} (identical counter, multi-die package)`,
        );
      }
    } else {
      result.packages.push(...group);
    }
  }

  const kept = new Set(result.packages.map(p => p.zone));
  for (const [zone, dir] of zones) {
    const m = SUB_ZONE.exec(zone);
    if (!m) continue;
    const parent = `${m[1]}:${m[2]}`;
    const name = readText(join(dir, 'name')) ?? '';
    const parentDomain = result.packages.find(p => p.zone === parent);
    if (name !== 'dram') {
      if (kept.has(parent)) result.excluded.push(`${zone} (${name}): inside its package (counted there)`);
      continue;
    }
    if (!parentDomain) {
      result.excluded.push(`${zone} (dram): its package zone ${parent} is excluded`);
      continue;
    }
    result.dram.push(makeDomain(zone, dir, name, 'dram', `${parentDomain.name}/dram`));
  }
  return result;
}
