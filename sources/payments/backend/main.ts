import { startPaymentsBackend } from './backend.ts';
import { DEMO_PORTS } from '../../demo/index.ts';

/**
 * Runs the payments backend alone: `node --import tsx sources/payments/backend/main.ts`.
 * PORT (default 4101) and HOST (default 127.0.0.1) choose where it listens.
 */
const port = process.env.PORT === undefined ? DEMO_PORTS.payments : Number(process.env.PORT);
const backend = await startPaymentsBackend({ port, host: process.env.HOST ?? '127.0.0.1' });
console.log(`payments backend listening on ${backend.url}`);

const stop = () => {
  backend.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
