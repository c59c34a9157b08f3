/**
 * RAPL (Intel and AMD) energy counters through powercap sysfs: the CPU packages as the 'cpu'
 * component, and the DRAM subzones, where present, as a separate measured 'ram' source. Domain
 * policy in rapl-domains.ts; wraparound in rapl-counter.ts.
 */
import { join } from 'node:path';
import type { Component } from '../../api/schemas.js';
import type { DeviceReading, PowerSource, ProbeResult, SourceReading } from '../source.js';
import { RaplCounter, wrapPollPeriodMs } from './rapl-counter.js';
import { discoverRapl, type RaplDiscovery, type RaplDomain } from './rapl-domains.js';

export const RAPL_UDEV_RULE_PATH = '/etc/udev/rules.d/99-pnav-rapl.rules';
export const RAPL_UDEV_RULE = 'SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys%p/energy_uj"';

/** The exact fix for energy_uj being root-only (Linux 5.10 and backports, CVE-2020-8694). */
export function raplPermissionFix(sysfsRoot: string): string {
  const powercap = join(sysfsRoot, 'class', 'powercap');
  return [
    // MMIO zones (intel-rapl-mmio:*) are the only package counter on some Intel client CPUs.
    `Now (until reboot): sudo chmod a+r ${powercap}/intel-rapl:*/energy_uj ${powercap}/intel-rapl:*:*/energy_uj ${powercap}/intel-rapl-mmio:*/energy_uj`,
    `Permanently: echo '${RAPL_UDEV_RULE}' | sudo tee ${RAPL_UDEV_RULE_PATH} && sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=powercap`,
    'Or, to limit it to one group: RUN+="/bin/chgrp pnav /sys%p/energy_uj", RUN+="/bin/chmod g+r /sys%p/energy_uj" in the same rule and add the users to group pnav.',
    'Do not run Jupyter as root for this.',
  ].join('\n');
}

export function raplMissingFix(sysfsRoot: string): string {
  return [
    'RAPL is absent in most VMs and on non-x86 machines; the CPU is then estimated from TDP and load.',
    'On bare metal: sudo modprobe intel_rapl_msr (AMD needs Linux >= 5.8).',
    `In a container, mount the host's sysfs and point the sidecar at it: docker run -v /sys:/host/sys:ro ... and pnav sidecar --sysfs-root /host/sys (now: ${sysfsRoot}).`,
  ].join('\n');
}

const MIN_POWER_WINDOW_MS = 200;

interface DeviceState {
  domain: RaplDomain;
  counter: RaplCounter;
  energyJ: number;
  powerW: number | null;
  windowMonoMs: number;
  windowEnergyJ: number;
}

type ReadError = { code?: string; message: string };

function describeReadError(domain: RaplDomain, err: ReadError): string {
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return `permission denied reading ${domain.energyPath}: energy_uj is root-only since Linux 5.10 and its backports (CVE-2020-8694)`;
  }
  return `cannot read ${domain.energyPath}: ${err.code ?? err.message}`;
}

abstract class RaplSourceBase implements PowerSource {
  abstract readonly id: string;
  abstract readonly component: Component;
  readonly method = 'rapl' as const;
  readonly measured = true;
  /** RAPL updates every ~1 ms (976 µs time unit, with jitter). */
  readonly updatePeriodMs = 1;
  protected states: DeviceState[] = [];
  private poller: NodeJS.Timeout | null = null;
  private discovery: RaplDiscovery | null = null;

  constructor(protected readonly sysfsRoot: string) {}

  protected abstract pick(d: RaplDiscovery): RaplDomain[];
  protected abstract noDomainsReason(d: RaplDiscovery): string;
  /** The fix when no domain of this kind exists (none when the hardware simply lacks it). */
  protected noDomainsFix(_d: RaplDiscovery): string | undefined {
    return raplMissingFix(this.sysfsRoot);
  }

  protected discover(): RaplDiscovery {
    this.discovery ??= discoverRapl(this.sysfsRoot);
    return this.discovery;
  }

  async probe(): Promise<ProbeResult> {
    const d = this.discover();
    if (!d.exists) {
      return {
        available: false,
        reason: `no powercap directory at ${d.powercapDir}`,
        fix: raplMissingFix(this.sysfsRoot),
      };
    }
    const domains = this.pick(d);
    if (domains.length === 0) {
      return {
        available: false,
        reason: this.noDomainsReason(d),
        fix: this.noDomainsFix(d),
        detail: excludedDetail(d) || undefined,
      };
    }
    for (const domain of domains) {
      const counter = new RaplCounter(domain.energyPath, domain.maxRangeUj);
      try {
        counter.readRawUj();
      } catch (err) {
        const e = err as ReadError;
        const denied = e.code === 'EACCES' || e.code === 'EPERM';
        return {
          available: false,
          reason: describeReadError(domain, e),
          fix: denied ? raplPermissionFix(this.sysfsRoot) : raplMissingFix(this.sysfsRoot),
        };
      } finally {
        counter.close();
      }
      if (!Number.isFinite(domain.maxRangeUj)) {
        return {
          available: false,
          reason: `no usable max_energy_range_uj in ${domain.dir}: wraparound could not be handled`,
          fix: raplMissingFix(this.sysfsRoot),
        };
      }
    }
    const names = domains.map(x => `${x.label} (${x.zone}, wraps at ${(x.maxRangeUj / 1e6).toFixed(0)} J)`);
    return { available: true, detail: [`domains: ${names.join(', ')}`, excludedDetail(d)].filter(Boolean).join('; ') };
  }

  async start(): Promise<void> {
    if (this.states.length > 0) return;
    const now = performance.now();
    this.states = this.pick(this.discover()).map(domain => {
      const counter = new RaplCounter(domain.energyPath, domain.maxRangeUj);
      counter.update();
      return { domain, counter, energyJ: 0, powerW: null, windowMonoMs: now, windowEnergyJ: 0 };
    });
    const periodMs = Math.min(...this.states.map(s => wrapPollPeriodMs(s.domain.maxRangeUj)));
    this.poller = setInterval(() => this.pollQuietly(), periodMs);
    this.poller.unref();
  }

  /** The wrap poller's period, for tests and doctor. */
  pollPeriodMs(): number | null {
    return this.states.length ? Math.min(...this.states.map(s => wrapPollPeriodMs(s.domain.maxRangeUj))) : null;
  }

  private pollQuietly(): void {
    try {
      this.read();
    } catch {
      // A transient read error must not kill the timer; the next read() reports it.
    }
  }

  read(): SourceReading {
    const monoMs = performance.now();
    const devices: DeviceReading[] = this.states.map(s => {
      s.energyJ = s.counter.update();
      const dtMs = monoMs - s.windowMonoMs;
      if (dtMs >= MIN_POWER_WINDOW_MS) {
        s.powerW = ((s.energyJ - s.windowEnergyJ) * 1000) / dtMs;
        s.windowMonoMs = monoMs;
        s.windowEnergyJ = s.energyJ;
      }
      return { deviceId: s.domain.label, energyJ: s.energyJ, powerW: s.powerW };
    });
    const known = devices.filter(d => d.powerW !== null);
    return {
      monoMs,
      energyJ: devices.reduce((sum, d) => sum + d.energyJ, 0),
      powerW: known.length === devices.length && known.length > 0 ? known.reduce((s, d) => s + d.powerW!, 0) : null,
      devices,
    };
  }

  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    for (const s of this.states) s.counter.close();
    this.states = [];
  }

  devices(): { id: string; name: string }[] {
    return this.pick(this.discover()).map(d => ({ id: d.label, name: `RAPL ${d.label} (${d.zone})` }));
  }

  /** Total wraps handled so far, for tests and doctor. */
  wraps(): number {
    return this.states.reduce((n, s) => n + s.counter.wraps, 0);
  }
}

function excludedDetail(d: RaplDiscovery): string {
  return d.excluded.length ? `excluded: ${d.excluded.join('; ')}` : '';
}

/** CPU packages (component 'cpu'). */
export class RaplPackageSource extends RaplSourceBase {
  readonly id = 'rapl';
  readonly component = 'cpu' as const;
  protected pick(d: RaplDiscovery): RaplDomain[] {
    return d.packages;
  }
  protected noDomainsReason(d: RaplDiscovery): string {
    return `no RAPL package domain under ${d.powercapDir}`;
  }
}

/** DRAM subzones (component 'ram', measured): wins over the RAM model where present. */
export class RaplDramSource extends RaplSourceBase {
  readonly id = 'rapl-dram';
  readonly component = 'ram' as const;
  protected pick(d: RaplDiscovery): RaplDomain[] {
    return d.dram;
  }
  protected noDomainsReason(d: RaplDiscovery): string {
    return d.packages.length
      ? `the RAPL packages under ${d.powercapDir} have no dram subzone (common on client CPUs and AMD)`
      : `no RAPL domain under ${d.powercapDir}`;
  }
  protected override noDomainsFix(d: RaplDiscovery): string | undefined {
    return d.packages.length ? undefined : raplMissingFix(this.sysfsRoot);
  }
}
