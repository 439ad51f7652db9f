import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['kernel-proxy/test/**/*.test.ts', 'extension/test/**/*.test.ts', 'tests/**/*.test.ts'],
    // chDB allows one data directory per process: each test file gets its own process.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ['tests/setup/global.ts'],
    reporters: ['default', './tests/support/summary-reporter.ts'],
  },
});
