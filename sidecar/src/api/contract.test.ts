/**
 * The lab extension and the Python package read the wire contract from generated files; this fails
 * when one of them no longer matches the schemas here (run `npm run contract -w sidecar`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderPython, renderTsConstants, renderTsTypes, TARGETS } from '../../scripts/contract/render.mjs';
import { buildOpenApi } from '../server/openapi.js';
import { CONTRACT } from './contract.js';

const REGENERATE = 'stale: regenerate with `npm run contract -w sidecar` and commit the result';

function onDisk(file: string): string {
  return readFileSync(file, 'utf8');
}

describe('generated copies of the wire contract', () => {
  it('labextension/src/generated/sidecar-api.ts matches the OpenAPI document', async () => {
    const expected = await renderTsTypes(await buildOpenApi('0'));
    expect(onDisk(TARGETS.tsTypes) === expected, `${path.basename(TARGETS.tsTypes)} is ${REGENERATE}`).toBe(true);
  });

  it('labextension/src/generated/contract.ts matches api/contract.ts and the routes', async () => {
    expect(onDisk(TARGETS.tsConstants)).toBe(renderTsConstants(CONTRACT, await buildOpenApi('0')));
  });

  it('python-shim/pnav_lab/contract.py matches api/contract.ts and the routes', async () => {
    expect(onDisk(TARGETS.python)).toBe(renderPython(CONTRACT, await buildOpenApi('0')));
  });

  it('renders values the other languages read back as written', () => {
    const doc = { paths: { '/b': { get: {} }, '/a': { post: {}, get: {} } } };
    const python = renderPython({ QUOTED: "it's", LIST: ['a', 'b'], ONE: ['x'], N: 3 }, doc);
    expect(python).toContain(
      "QUOTED = 'it\\'s'\nLIST = ('a', 'b')\nONE = ('x',)\nN = 3\nROUTES = ('GET /a', 'GET /b', 'POST /a')\n",
    );
    expect(renderTsConstants({ LIST: ['a'], N: 3 }, doc)).toContain(
      "export const LIST = ['a'] as const;\nexport const N = 3;\nexport const ROUTES = ['GET /a', 'GET /b', 'POST /a'] as const;\n",
    );
  });
});
