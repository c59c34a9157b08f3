import { defineConfig } from 'vitest/config';

// Two real OS users (useradd) and real sidecars, kernels-like clients and listeners as them: one file at a time.
export default defineConfig({
  test: {
    include: ['multi-user/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
