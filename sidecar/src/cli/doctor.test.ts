import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../../test-support/built-cli.js';
import { FakeRoot } from '../../test-support/fake-sysfs.js';
import { formatDoctor } from './doctor.js';

let withRapl: FakeRoot;
let withoutRapl: FakeRoot;

beforeAll(() => {
  ensureBuilt();
  withRapl = new FakeRoot();
  withRapl.zone({ zone: 'intel-rapl:0', name: 'package-0', energyUj: 1_000 });
  withoutRapl = new FakeRoot();
  withoutRapl.write('sys/class/.keep', '');
}, 120_000);
afterAll(() => {
  withRapl.cleanup();
  withoutRapl.cleanup();
});

function doctor(sysfsRoot: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [CLI, 'doctor', '--sysfs-root', sysfsRoot, '--json'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', d => (out += d));
  return new Promise(r => child.once('exit', code => r({ code, out })));
}

describe('pnav doctor', () => {
  it('exits 0 when a measured source (RAPL) is readable', async () => {
    const { code, out } = await doctor(withRapl.sysfsRoot);
    expect(code).toBe(0);
    const result = JSON.parse(out);
    expect(result.measuredAvailable).toBe(true);
    expect(result.sources.find((s: { id: string }) => s.id === 'rapl')).toMatchObject({
      available: true,
      measured: true,
    });
  }, 60_000);

  it('exits 1 when every source is an estimate, and says how to fix RAPL', async () => {
    const { code, out } = await doctor(withoutRapl.sysfsRoot);
    expect(code).toBe(1);
    const result = JSON.parse(out);
    expect(result.measuredAvailable).toBe(false);
    const rapl = result.sources.find((s: { id: string }) => s.id === 'rapl');
    expect(rapl.available).toBe(false);
    expect(rapl.fix).toContain('--sysfs-root');
  }, 60_000);

  it('prints a table with the fixes and the verdict', () => {
    const text = formatDoctor({
      measuredAvailable: false,
      sources: [
        {
          id: 'rapl',
          component: 'cpu',
          method: 'rapl',
          measured: true,
          available: false,
          reason: 'permission denied',
          fix: 'line one\nline two',
          devices: [],
          detail: null,
        },
      ],
    });
    expect(text).toBe(
      [
        'component  source  method  kind      available  detail / reason',
        '---------  ------  ------  --------  ---------  -----------------',
        'cpu        rapl    rapl    measured  no         permission denied',
        '',
        'How to fix:',
        '- rapl: line one',
        '  line two',
        '',
        'No measured source is available: every figure will be an estimate (see the fixes above).',
        '',
      ].join('\n'),
    );
  });
});
