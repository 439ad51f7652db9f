import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export default defineConfig({
  root,
  test: {
    include: ['kernel-proxy/test/jupyter/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
  },
});
