/** `pnav doctor`: every power source, available or not, with the exact fix; exit 0 iff a measured source exists. */
import type { Command } from 'commander';
import type { SourceInfo } from '../api/schemas.js';
import { doctor } from '../power/index.js';

interface DoctorOptions {
  sysfsRoot: string;
  procRoot: string;
  gpuIds?: string;
  cpuTdp?: string;
  nvidiaSmi?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check which power sources work on this machine and how to fix the ones that do not')
    .option('--sysfs-root <dir>', 'root of sysfs', '/sys')
    .option('--proc-root <dir>', 'root of procfs', '/proc')
    .option('--gpu-ids <ids>', 'comma-separated GPU indices')
    .option('--cpu-tdp <watts>', 'CPU TDP per socket in W')
    .option('--nvidia-smi <path>', 'nvidia-smi executable to use')
    .option('--json', 'print the result as JSON')
    .action(async (opts: DoctorOptions) => {
      const result = await doctor({
        sysfsRoot: opts.sysfsRoot,
        procRoot: opts.procRoot,
        gpuIds: opts.gpuIds?.split(',').filter(Boolean).map(Number),
        cpuTdpW: opts.cpuTdp === undefined ? undefined : Number(opts.cpuTdp),
        nvidiaSmiPath: opts.nvidiaSmi,
      });
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatDoctor(result));
      process.exitCode = result.measuredAvailable ? 0 : 1;
    });
}

export function formatDoctor(result: { sources: SourceInfo[]; measuredAvailable: boolean }): string {
  const rows = result.sources.map(s => [
    s.component,
    s.id,
    s.method,
    s.measured ? 'measured' : 'estimated',
    s.available ? 'yes' : 'no',
    s.available ? (s.detail ?? '') : (s.reason ?? ''),
  ]);
  const header = ['component', 'source', 'method', 'kind', 'available', 'detail / reason'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)));
  const line = (cells: string[]) =>
    `${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`;
  let out = line(header) + line(widths.map(w => '-'.repeat(w)));
  for (const r of rows) out += line(r);
  const fixes = result.sources.filter(s => !s.available && s.fix);
  if (fixes.length > 0) {
    out += '\nHow to fix:\n';
    for (const s of fixes) out += `- ${s.id}: ${s.fix!.replaceAll('\n', '\n  ')}\n`;
  }
  out += result.measuredAvailable
    ? '\nA measured source is available: figures come from hardware counters.\n'
    : '\nNo measured source is available: every figure will be an estimate (see the fixes above).\n';
  return out;
}
