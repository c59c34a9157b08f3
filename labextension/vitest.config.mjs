import { defineConfig } from 'vitest/config';

// Pure modules run in node; files that touch the DOM opt into jsdom with a
// `// @vitest-environment jsdom` comment at the top.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['test-support/setup.ts'],
    pool: 'threads',
    maxWorkers: 1,
  },
});
