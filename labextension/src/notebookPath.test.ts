import { describe, expect, it } from 'vitest';
import { isSameNotebook, pathCandidates } from './notebookPath';

describe('notebook paths', () => {
  it('knows the relative and absolute forms when the server root is absolute', () => {
    expect(pathCandidates('dir/nb.ipynb', '/home/me/')).toEqual(['dir/nb.ipynb', '/home/me/dir/nb.ipynb']);
    expect(pathCandidates('nb.ipynb', '~/work')).toEqual(['nb.ipynb']);
  });

  it('matches the kernel absolute path to the lab relative path', () => {
    expect(isSameNotebook('/home/me/dir/nb.ipynb', 'dir/nb.ipynb', '/home/me')).toBe(true);
    expect(isSameNotebook('dir/nb.ipynb', 'dir/nb.ipynb', '/home/me')).toBe(true);
    expect(isSameNotebook('/home/me/other/dir/nb.ipynb', 'dir/nb.ipynb', '/home/me')).toBe(false);
    expect(isSameNotebook('/elsewhere/nb.ipynb', 'nb.ipynb', '/home/me')).toBe(false);
  });

  it('falls back to a suffix match when the root is not absolute', () => {
    expect(isSameNotebook('/home/me/work/nb.ipynb', 'nb.ipynb', '~/work')).toBe(true);
    expect(isSameNotebook('/home/me/work/xnb.ipynb', 'nb.ipynb', null)).toBe(false);
  });
});
