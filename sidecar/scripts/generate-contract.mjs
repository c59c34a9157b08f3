/**
 * Writes the generated copies of the wire contract (see contract/render.mjs) from the built
 * sidecar: `npm run contract -w sidecar` builds, then runs this.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CONTRACT } from '../dist/api/contract.js';
import { buildOpenApi } from '../dist/server/openapi.js';
import { renderPython, renderTsConstants, renderTsTypes, TARGETS } from './contract/render.mjs';

const openapi = await buildOpenApi('0');
const files = {
  [TARGETS.tsTypes]: await renderTsTypes(openapi),
  [TARGETS.tsConstants]: renderTsConstants(CONTRACT, openapi),
  [TARGETS.python]: renderPython(CONTRACT, openapi),
};
for (const [file, text] of Object.entries(files)) {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
