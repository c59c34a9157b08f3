import { describe, expect, it } from 'vitest';
import { normaliseCpuName, TdpTable, tdpTable } from './tdp-table.js';

describe('normaliseCpuName', () => {
  it('strips trademarks, CPU/Processor, clock and core count', () => {
    expect(normaliseCpuName('Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz')).toBe('intel xeon platinum 8375c');
    expect(normaliseCpuName('AMD Ryzen 9 5950X 16-Core Processor')).toBe('amd ryzen 9 5950x');
    expect(normaliseCpuName('Intel® Core™ i7-8650U')).toBe('intel core i7-8650u');
  });
});

describe('the project TDP table (CodeCarbon cpu_power.csv)', () => {
  const table = tdpTable();
  it.each([
    ['Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz', 300, 'Intel Xeon Platinum 8375C', 'exact'],
    ['AMD EPYC 7543 32-Core Processor', 225, 'AMD EPYC 7543', 'exact'],
    ['Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz', 15, 'Intel Core i7-8650U', 'exact'],
    ['Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz', 120, 'Intel Xeon E5-2680 v4', 'exact'],
    ['AMD Ryzen 7 5800H with Radeon Graphics', 45, 'AMD Ryzen 7 5800H', 'token-set'],
    ['11th Gen Intel(R) Core(TM) i7-1185G7 @ 3.00GHz', 28, 'Intel Core i7-1185G7', 'token-set'],
  ])('%s → %d W', (model, tdpW, matchedName, how) => {
    expect(table.match(model)).toEqual({ tdpW, matchedName, how });
  });

  it('matches nothing for a vendor-only string (a VM that hides the model)', () => {
    expect(table.match('AMD EPYC')).toBeNull();
    expect(table.match('QEMU Virtual CPU version 2.5+')).toBeNull();
  });

  it('records its default (85 W, CodeCarbon) and has thousands of entries', () => {
    expect(table.defaultTdpW).toBe(85);
    expect(table.size).toBeGreaterThan(4800);
  });
});

describe('token-set ambiguity', () => {
  it('prefers the longest contained name and refuses a tie with different TDPs', () => {
    const t = new TdpTable({
      defaultTdpW: 85,
      defaultTdpSource: 'd',
      source: { repository: 'r', commit: '0123456789', file: 'f', licence: 'MIT' },
      cpus: { 'Xeon E5-2680': 130, 'Xeon E5-2680 v4': 120, 'Foo X1': 10, 'Bar X1': 20 },
    });
    expect(t.match('Intel Xeon E5-2680 v4 @ 2.4GHz')).toMatchObject({ tdpW: 120, how: 'token-set' });
    expect(t.match('Foo Bar X1')).toBeNull();
  });
});
