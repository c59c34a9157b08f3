/**
 * Files shipped beside the sidecar's code (data/*.json, package.json). In src/ and dist/ every module
 * sits two levels below the package root; the single-file bundle (scripts/bundle.mjs) sits at the root
 * of its own folder, with data/ and package.json copied next to it, and defines PNAV_BUNDLED.
 */
declare const PNAV_BUNDLED: boolean | undefined;

const PACKAGE_ROOT =
  typeof PNAV_BUNDLED !== 'undefined' && PNAV_BUNDLED
    ? new URL('./', import.meta.url)
    : new URL('../../', import.meta.url);

/** A file relative to the package root, e.g. `data/cpu-tdp.json`. */
export function packageFile(relativePath: string): URL {
  return new URL(relativePath, PACKAGE_ROOT);
}
