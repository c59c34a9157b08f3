/** The sidecar's version, from its package.json (found by packageFile in a build and in the bundle). */
import fs from 'node:fs';
import { packageFile } from './package-files.js';

const pkg = JSON.parse(fs.readFileSync(packageFile('package.json'), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
