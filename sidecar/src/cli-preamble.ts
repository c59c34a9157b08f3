/**
 * Runs before any other module of the `pnav` command is evaluated (cli.ts imports it first):
 * `pnav sidecar` settles its heap before loading express, zod and the rest (cli/heap.ts).
 */
import { tuneHeapForSidecar } from './cli/heap.js';

if (process.argv[2] === 'sidecar') tuneHeapForSidecar();
