#!/usr/bin/env node
/**
 * The `pnav` command. Each subcommand lives in src/cli/<name>.ts and exports `register(program)`:
 * adding one is one file and one line below.
 */
import { Command } from 'commander';
import { register as registerDoctor } from './cli/doctor.js';
import { register as registerSidecar } from './cli/sidecar.js';
import { VERSION } from './runtime/version.js';

const program = new Command('pnav').description('PNAV Lab: energy and CO2 of notebook cells and training').version(VERSION);

registerSidecar(program);
registerDoctor(program);

await program.parseAsync(process.argv);
