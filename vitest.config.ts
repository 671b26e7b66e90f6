import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One graphql module for everything: without this, ESM and CJS copies meet and fail with
    // "Cannot use GraphQLScalarType from another module or realm" (see docs/stack notes).
    alias: { graphql: 'graphql/index.js' },
  },
  test: {
    include: ['test/**/*.test.ts', 'sources/**/*.test.ts', 'gateway/**/*.test.ts', 'schema/**/*.test.ts'],
    testTimeout: 20_000,
    // CI sets JUNCTION_TEST_REPORT to also get a JSON report it can sum up (see .ci/run).
    reporters: process.env.JUNCTION_TEST_REPORT ? ['default', ['json', { outputFile: process.env.JUNCTION_TEST_REPORT }]] : ['default'],
    hookTimeout: 30_000,
  },
});
