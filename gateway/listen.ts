import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens (port 0: any free one; host default 127.0.0.1, never beyond loopback unless asked); resolves to the URL the server answers on. */
export async function listen(server: Server, port = 0, host = '127.0.0.1'): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
