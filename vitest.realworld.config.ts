import { defineConfig } from 'vitest/config';

/** `npm run test:realworld`: the conformance suite over ../shared/realworld (see test/realworld/corpus.ts). */
export default defineConfig({
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/realworld/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
