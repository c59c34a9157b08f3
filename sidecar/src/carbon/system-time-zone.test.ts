import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemTimeZone } from './system-time-zone.js';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pnav-tz-'));
  fs.mkdirSync(path.join(root, 'etc'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const noIntl = () => 'Intl/Asked';

describe('systemTimeZone', () => {
  it('takes an IANA zone from TZ (with or without the leading colon)', () => {
    expect(systemTimeZone({ env: { TZ: 'Europe/Madrid' }, root, intl: noIntl })).toBe('Europe/Madrid');
    expect(systemTimeZone({ env: { TZ: ':Atlantic/Canary' }, root, intl: noIntl })).toBe('Atlantic/Canary');
    expect(systemTimeZone({ env: { TZ: '/usr/share/zoneinfo/Europe/Lisbon' }, root, intl: noIntl })).toBe(
      'Europe/Lisbon',
    );
  });

  it('reads the /etc/localtime link, then /etc/timezone, before asking Intl', () => {
    fs.symlinkSync('/usr/share/zoneinfo/Europe/Paris', path.join(root, 'etc', 'localtime'));
    expect(systemTimeZone({ env: {}, root, intl: noIntl })).toBe('Europe/Paris');
    // A POSIX rule in TZ names no zone: the system's zone is used.
    expect(systemTimeZone({ env: { TZ: 'CET-1CEST,M3.5.0,M10.5.0/3' }, root, intl: noIntl })).toBe('Europe/Paris');
    fs.rmSync(path.join(root, 'etc', 'localtime'));
    fs.writeFileSync(path.join(root, 'etc', 'timezone'), 'Europe/Berlin\n');
    expect(systemTimeZone({ env: {}, root, intl: noIntl })).toBe('Europe/Berlin');
    fs.rmSync(path.join(root, 'etc', 'timezone'));
    expect(systemTimeZone({ env: {}, root, intl: noIntl })).toBe('Intl/Asked');
  });
});
