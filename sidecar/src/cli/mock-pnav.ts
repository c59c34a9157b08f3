/** `pnav mock-pnav`: a local PNAV endpoint for tests and demos (see outputs/outbox/mock-server.ts). */
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';

interface MockOptions {
  port: string;
  host: string;
  token?: string;
}

export function register(program: Command): void {
  program
    .command('mock-pnav')
    .description('run a local PNAV API endpoint that accepts calculadorapnav submissions (tests, demos)')
    .option('--port <n>', 'port to listen on (0 = any free port)', '0')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--token <hex>', 'accept only this token (default: any 64-hex token)')
    .action(async (opts: MockOptions) => {
      const { createMockPnavApp } = await import('../outputs/outbox/mock-server.js'); // not loaded by other subcommands
      const server = createMockPnavApp({ token: opts.token }).listen(Number(opts.port), opts.host, () => {
        const { port } = server.address() as AddressInfo;
        const base = `http://${opts.host}:${port}`;
        process.stdout.write(
          `mock PNAV listening on ${base}/ (POST any path; GET ${base}/__received; POST ${base}/__control)\n`,
        );
      });
      const stop = () => server.close(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
