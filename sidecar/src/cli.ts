#!/usr/bin/env node
/**
 * The `pnav` command. Each subcommand lives in src/cli/<name>.ts and exports `register(program)`:
 * adding one is one file and one line below.
 */
import './cli-preamble.js'; // first: settles the sidecar's heap before the other modules load
import { Command } from 'commander';
import { register as registerConfig } from './cli/config.js';
import { register as registerDoctor } from './cli/doctor.js';
import { register as registerMeasure } from './cli/measure.js';
import { register as registerMockPnav } from './cli/mock-pnav.js';
import { register as registerSidecar } from './cli/sidecar.js';
import { register as registerUpload } from './cli/upload.js';
import { VERSION } from './util/version.js';

const program = new Command('pnav')
  .description('PNAV Lab: energy and CO2 of notebook cells and training')
  .version(VERSION);

registerSidecar(program);
registerDoctor(program);
registerConfig(program);
registerMeasure(program);
registerUpload(program);
registerMockPnav(program);

await program.parseAsync(process.argv);
