/**
 * The scale-out bench's balancer as a process of its own (not in the bench's process, where the
 * load tool runs): test/helpers/balancer.ts's round-robin TCP proxy (BALANCER_MODE=http: the HTTP
 * balancer the scale-out tests use) in front of the instances named in BALANCER_TARGETS
 * (comma-separated base URLs). Prints `BALANCER http://127.0.0.1:<port>` once it listens.
 */
import { startBalancer, startTcpBalancer } from '../test/helpers/balancer.ts';

const targets = (process.env.BALANCER_TARGETS ?? '').split(',').filter(Boolean);
if (targets.length === 0) {
  process.stderr.write('BALANCER_TARGETS: no instance given\n');
  process.exit(1);
}
const balancer = process.env.BALANCER_MODE === 'http' ? await startBalancer(targets) : await startTcpBalancer(targets);
process.stdout.write(`BALANCER ${balancer.url}\n`);
const stop = () => void balancer.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
