import { describe, expect, it } from 'vitest';
import { defaultExportName, exportName, filenameFromDisposition } from './filename';

describe('filenameFromDisposition', () => {
  it('reads plain and extended forms, extended first', () => {
    expect(filenameFromDisposition('attachment; filename="pnav.csv"')).toBe('pnav.csv');
    expect(filenameFromDisposition('attachment; filename=pnav.json')).toBe('pnav.json');
    expect(filenameFromDisposition(`attachment; filename="a.csv"; filename*=UTF-8''energ%C3%ADa.csv`)).toBe(
      'energía.csv',
    );
  });

  it('drops directories and refuses empty names', () => {
    expect(filenameFromDisposition('attachment; filename="../../etc/passwd"')).toBe('passwd');
    expect(filenameFromDisposition('attachment; filename=".."')).toBeNull();
    expect(filenameFromDisposition(null)).toBeNull();
    expect(filenameFromDisposition('inline')).toBeNull();
  });
});

describe('defaultExportName', () => {
  it('names the notebook and the time', () => {
    const now = new Date('2025-03-04T05:06:07Z');
    expect(defaultExportName('csv', 'dir/My notebook.ipynb', now)).toBe('pnav-My_notebook-20250304-050607.csv');
    expect(defaultExportName('boamps', null, now)).toBe('pnav-runs-20250304-050607.boamps.json');
  });
});

describe('exportName', () => {
  it('names the notebook and the record type', () => {
    expect(exportName('boamps', 'work/pnav-demo.ipynb', ['training'])).toBe('pnav-demo-training.boamps.json');
    expect(exportName('csv', 'pnav-demo.ipynb', ['inference', 'training'])).toBe('pnav-demo-training-inference.csv');
    expect(exportName('json', 'My notebook.ipynb', ['inference'])).toBe('My_notebook-inference.json');
    expect(exportName('csv', null, [])).toBe('pnav-runs-runs.csv');
  });
});
