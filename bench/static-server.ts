/**
 * The benchmark's "static": the most any cached gateway could do for the Dashboard. Plain
 * node:http writing, for every request, the bytes and content-type Junction answered it with
 * (STATIC_BODY_FILE, read once at start; STATIC_CONTENT_TYPE): no GraphQL, no cache lookup, no
 * identity check, only HTTP itself.
 * Env: STATIC_BODY_FILE, STATIC_CONTENT_TYPE, PORT (0 = any). Prints `GraphQL   <url>/graphql`.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const { STATIC_BODY_FILE: file, STATIC_CONTENT_TYPE: contentType } = process.env;
if (!file || !contentType) throw new Error('STATIC_BODY_FILE and STATIC_CONTENT_TYPE must be set');
const body = readFileSync(file);
const headers = { 'content-type': contentType, 'content-length': body.length };

const server = createServer((req, res) => {
  // Read to its end first: any gateway must have the whole request before it can know the answer.
  req.resume().on('end', () => res.writeHead(200, headers).end(body));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`GraphQL   http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql\n`);
});
