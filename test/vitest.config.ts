import { defineConfig } from 'vitest/config';

// Cross-component, compatibility and end-to-end tests: real processes, so long timeouts
// and one file at a time (they start servers, kernels and a browser).
export default defineConfig({
  test: {
    include: ['integration/**/*.test.ts', 'compat/**/*.test.ts', 'e2e/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
