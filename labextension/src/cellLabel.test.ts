import { describe, expect, it } from 'vitest';
import { isPnavCell, magicLine, optionValue, pnavCellInfo, splitArgs } from './cellLabel';

describe('isPnavCell', () => {
  it('recognises %%pnav on the first non-blank line only', () => {
    expect(isPnavCell('%%pnav\nx = 1')).toBe(true);
    expect(isPnavCell('\n  \n%%pnav --epochs 3\nx')).toBe(true);
    expect(isPnavCell('%%pnav')).toBe(true);
    expect(isPnavCell('%%pnavx\n')).toBe(false);
    expect(isPnavCell(' %%pnav\n')).toBe(false);
    expect(isPnavCell('x = 1\n%%pnav')).toBe(false);
    expect(isPnavCell('%%time\n%%pnav')).toBe(false);
    expect(magicLine('%%pnav\tlabel')).toBe('%%pnav\tlabel');
  });
});

describe('splitArgs and optionValue', () => {
  it('groups quoted words like a shell', () => {
    expect(splitArgs(` --label "my model" --epochs=3 'a b' x\\y`)).toEqual([
      '--label',
      'my model',
      '--epochs=3',
      'a b',
      'x\\y',
    ]);
    expect(splitArgs('--label ""')).toEqual(['--label', '']);
    expect(optionValue(['--epochs=3'], 'epochs')).toBe('3');
    expect(optionValue(['--epochs', '4'], 'epochs')).toBe('4');
    expect(optionValue(['--epochs'], 'epochs')).toBeNull();
  });
});

describe('pnavCellInfo', () => {
  it('takes --label first', () => {
    expect(pnavCellInfo('%%pnav --label "train CNN" --epochs 5\nfit()')).toEqual({ label: 'train CNN', nEpoch: 5 });
  });

  it('falls back to the first non-empty body line', () => {
    expect(pnavCellInfo('%%pnav --epochs=3\n\n   for e in pnav_lab.epochs(range(3)):  \n  pass')).toEqual({
      label: 'for e in pnav_lab.epochs(range(3)):',
      nEpoch: 3,
    });
  });

  it('clips long labels and handles empty bodies and bad epoch counts', () => {
    const info = pnavCellInfo(`%%pnav\n${'x'.repeat(200)}`);
    expect(info?.label).toHaveLength(80);
    expect(info?.label?.endsWith('…')).toBe(true);
    expect(pnavCellInfo('%%pnav --epochs many')).toEqual({ label: null, nEpoch: null });
    expect(pnavCellInfo('print(1)')).toBeNull();
  });
});
