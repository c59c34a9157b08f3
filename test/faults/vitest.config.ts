import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Slow fault injection (kill -9 with a queue, full and read-only disks): `npm run test:faults`,
// which runs vitest in test/ with `--config faults/vitest.config.ts`. Real processes, one file at a time.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['faults/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
