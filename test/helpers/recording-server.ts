import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { closeServer, listen } from '../../sources/demo/server.ts';

/**
 * A node:http backend of a test's own that reads each request whole and hands it, as received,
 * to `answer`: what reached the backend is what a test asserts, not what the gateway meant to send.
 */
export interface Seen {
  method: string;
  /** Path and query, as received. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export async function startRecordingServer(answer: (seen: Seen, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => answer({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body }, res));
  });
  return { url: await listen(server), close: () => closeServer(server) };
}

/** A JSON answer with its length. */
export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}
