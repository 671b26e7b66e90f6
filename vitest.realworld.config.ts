import { defineConfig } from 'vitest/config';

/** `npm run test:realworld`: the conformance suite over ../shared/realworld (see test/realworld/corpus.ts). */
export default defineConfig({
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/realworld/**/*.test.ts'],
    testTimeout: 120_000,
    // CI sets JUNCTION_TEST_REPORT to also get a JSON report it can sum up (see .ci/run).
    reporters: process.env.JUNCTION_TEST_REPORT ? ['default', ['json', { outputFile: process.env.JUNCTION_TEST_REPORT }]] : ['default'],
    hookTimeout: 120_000,
  },
});
