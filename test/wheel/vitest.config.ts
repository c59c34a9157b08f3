import { defineConfig } from 'vitest/config';

// The installed product: builds dist/, installs it into fresh venvs outside the repository and runs
// it without Node on PATH. Slow (pip installs, JupyterLab, Chromium): its own suite in npm test.
export default defineConfig({
  test: {
    include: ['wheel/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
