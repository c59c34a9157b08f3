import { describe, expect, it } from 'vitest';
import { cellCode, magicLabel, quoteLabel } from './cell-code.js';

describe('cellCode', () => {
  it("wraps a plain cell in %%pnav with its first line as the label, the user's quotes kept", () => {
    expect(cellCode('raise ValueError("boom")\n', 'raise ValueError("boom")', { country: 'ESP' })).toEqual({
      code: `%%pnav --label 'raise ValueError("boom")' --quiet --no-save --country ESP\nraise ValueError("boom")\n`,
      ownMagic: false,
      label: 'raise ValueError("boom")',
    });
    expect(cellCode("print('it')", "print('it')").code).toBe(
      `%%pnav --label "print('it')" --quiet --no-save\nprint('it')`,
    );
  });

  it("adds --country to the notebook's own %%pnav line only when it names none", () => {
    expect(cellCode('%%pnav --label a\nx = 1', '%%pnav --label a', { country: 'ESP' })).toEqual({
      code: '%%pnav --label a --country ESP\nx = 1',
      ownMagic: true,
    });
    expect(cellCode('%%pnav --country FRA\nx = 1', '%%pnav --country FRA', { country: 'ESP' }).code).toBe(
      '%%pnav --country FRA\nx = 1',
    );
  });
});

describe('magicLabel', () => {
  it('collapses whitespace, cuts long lines and names an empty line "cell"', () => {
    expect(magicLabel('  a \t b  ')).toBe('a b');
    expect(magicLabel('x'.repeat(100))).toBe(`${'x'.repeat(79)}…`);
    expect(magicLabel('   ')).toBe('cell');
  });
});

describe('quoteLabel', () => {
  it('wraps the label in the quote it does not contain; backslashes stay literal', () => {
    expect(quoteLabel('a\\b "c"')).toBe(`'a\\b "c"'`);
    expect(quoteLabel("-x + 'y'")).toBe(`"-x + 'y'"`);
  });

  it('turns double quotes into single ones when the label has both (the exact label is set afterwards)', () => {
    expect(quoteLabel(`f"{a}" + 'b'`)).toBe(`"f'{a}' + 'b'"`);
  });
});
