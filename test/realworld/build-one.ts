/**
 * Builds one OpenAPI document in a process of its own and prints `{ buildMs, peakRssMb }` as the
 * last line of stdout, so that a test can hold a large document (Stripe) to a time and memory
 * budget without the test runner's own memory in the figure.
 *
 *   node --import tsx test/realworld/build-one.ts <document>
 */
import { loadOpenApiSource } from '../../gateway/composition/byo/load-openapi.ts';

const file = process.argv[2];
if (!file) {
  console.error('usage: node --import tsx test/realworld/build-one.ts <openapi document>');
  process.exit(2);
}
const loaded = await loadOpenApiSource({ name: 'build-one', source: file });
// maxRSS is in kilobytes.
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(JSON.stringify({ buildMs: loaded.buildMs, peakRssMb }));
