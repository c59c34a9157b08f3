/**
 * Matching a run's notebook path to the notebook on screen.
 *
 * JupyterLab knows a notebook by its path relative to the server root
 * (`dir/nb.ipynb`); kernels learn theirs from JPY_SESSION_NAME, which
 * jupyter_server 2 sets to the absolute OS path (`/home/me/dir/nb.ipynb`).
 * Both name the same notebook. Pure.
 */

/** The forms a notebook's path can take in the sidecar: relative, and absolute when the server root is known. */
export function pathCandidates(relativePath: string, serverRoot: string | null): string[] {
  const candidates = [relativePath];
  if (serverRoot?.startsWith('/')) {
    candidates.push(`${serverRoot.replace(/\/+$/, '')}/${relativePath.replace(/^\/+/, '')}`);
  }
  return candidates;
}

/** Whether `runPath` names the notebook at `relativePath`. */
export function isSameNotebook(runPath: string, relativePath: string, serverRoot: string | null): boolean {
  const candidates = pathCandidates(relativePath, serverRoot);
  if (candidates.includes(runPath)) return true;
  // Unknown or `~`-relative server root: an absolute path ending with the relative one is the best evidence.
  return candidates.length === 1 && runPath.startsWith('/') && runPath.endsWith(`/${relativePath}`);
}
