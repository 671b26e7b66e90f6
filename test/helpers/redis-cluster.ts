import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';

const run = promisify(execFile);

/** One redis-server of the cluster. */
export interface ClusterNode {
  port: number;
  process: ChildProcess;
}

export interface RedisClusterBed {
  /** REDIS_URL for Junction: `redis+cluster://127.0.0.1:<port>,...` (every node). */
  url: string;
  nodes: ClusterNode[];
  /** The port of the primary serving `key`'s slot now. */
  primaryOf(key: string): Promise<number>;
  /**
   * SIGKILL for the primary serving `key`; resolves with the port of the replica that took its
   * slots over, once the cluster serves every slot again.
   */
  killPrimaryOf(key: string): Promise<{ killed: number; promoted: number }>;
  /** SIGKILL for the replicas of the shard serving `key`; resolves with their ports once the cluster marks them failed. */
  killReplicasOf(key: string): Promise<number[]>;
  /** Resolves once every replica of the shard serving `key` reports itself online (one that has received nothing yet says `loading`). */
  replicasOnline(key: string): Promise<void>;
  /** SIGSTOP for the replicas of the shard serving `key` (alive, answering nothing); resolves with a function that resumes them (SIGCONT). */
  pauseReplicasOf(key: string): Promise<() => void>;
  /** A plain connection to one node (for PUBSUB SHARDNUMSUB and the like); closed by `close`. */
  admin(port: number): Redis;
  close(): Promise<void>;
}

export interface RedisClusterOptions {
  primaries?: number;
  replicasPerPrimary?: number;
  /** How long a node may be silent before the others call it failed. Default 1,000 ms (Redis's own: 15 s). */
  nodeTimeoutMs?: number;
}

/** Ports free now, from the kernel (port 0), for the nodes and their cluster buses. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asks until `check` holds; fails after `timeoutMs` saying what was awaited. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`Redis Cluster: still not ${what} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * A Redis Cluster of the test's own on loopback: `primaries` primaries with `replicasPerPrimary`
 * replicas each (3 and 1: six `redis-server --cluster-enabled yes`), keeping nothing on disk, made
 * with `redis-cli --cluster create`; resolves once every slot is served and every replica is in
 * sync. `close` kills every node and removes their directory.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterBed> {
  const { primaries = 3, replicasPerPrimary = 1, nodeTimeoutMs = 1_000 } = options;
  const count = primaries * (1 + replicasPerPrimary);
  const dir = mkdtempSync(join(tmpdir(), 'junction-cluster-'));
  const ports = await freePorts(count * 2);
  const nodes: ClusterNode[] = [];
  const admins = new Map<number, Redis>();
  const admin = (port: number) => {
    let client = admins.get(port);
    if (!client) {
      client = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      client.on('error', () => undefined);
      admins.set(port, client);
    }
    return client;
  };
  const close = async () => {
    for (const client of admins.values()) client.disconnect();
    for (const { process: child } of nodes) child.kill('SIGCONT');
    await Promise.all(nodes.map(({ process: child }) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    })));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = ports[i]!;
      const child = spawn('redis-server', [
        '--port', String(port), '--cluster-port', String(ports[count + i]), '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(nodeTimeoutMs),
        // A replica may always take over, however long it was cut off (the test kills on purpose).
        '--cluster-replica-validity-factor', '0',
        '--save', '', '--appendonly', 'no', '--dir', dir,
      ], { stdio: 'ignore' });
      nodes.push({ port, process: child });
    }
    await Promise.all(nodes.map(({ port }) => until(async () => (await admin(port).ping()) === 'PONG', `answering on ${port}`, 10_000)));
    await run('redis-cli', ['--cluster', 'create', ...nodes.map(({ port }) => `127.0.0.1:${port}`), '--cluster-replicas', String(replicasPerPrimary), '--cluster-yes'], { timeout: 30_000 });
    const alive = () => nodes.filter(({ process: child }) => child.exitCode === null && child.signalCode === null);
    const clusterOk = () => until(async () => {
      for (const { port } of alive()) {
        const info = await admin(port).cluster('INFO') as string;
        if (!/cluster_state:ok/.test(info)) return false;
      }
      return true;
    }, 'serving every slot');
    await clusterOk();
    // Every replica has finished its first sync with its primary.
    await until(async () => {
      let synced = 0;
      for (const { port } of nodes) if (/master_link_status:up/.test(await admin(port).info('replication'))) synced++;
      return synced === primaries * replicasPerPrimary;
    }, 'in sync');
    /** The nodes of the shard serving `key`'s slot: role, port and health, from CLUSTER SHARDS. */
    const shardOf = async (key: string) => {
      const slot = calculateSlot(key);
      const shards = await admin(alive()[0]!.port).cluster('SHARDS') as [string, number[], string, unknown[][]][];
      for (const shard of shards) {
        const slots = shard[1];
        let owns = false;
        for (let i = 0; i < slots.length; i += 2) if (slot >= slots[i]! && slot <= slots[i + 1]!) owns = true;
        if (!owns) continue;
        return shard[3].map((node) => {
          const fields = new Map<string, unknown>();
          for (let i = 0; i < node.length; i += 2) fields.set(String(node[i]), node[i + 1]);
          return { role: String(fields.get('role')), port: Number(fields.get('port')), health: String(fields.get('health')) };
        });
      }
      throw new Error(`no shard serves the slot of ${key}`);
    };
    const primaryOf = async (key: string) => {
      const primary = (await shardOf(key)).find((n) => n.role === 'master' && n.health === 'online');
      if (!primary) throw new Error(`no primary serves the slot of ${key}`);
      return primary.port;
    };
    const kill = async (port: number) => {
      const node = nodes.find((n) => n.port === port)!;
      admins.get(port)?.disconnect();
      admins.delete(port);
      if (node.process.exitCode !== null || node.process.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        node.process.once('exit', () => resolve());
        node.process.kill('SIGKILL');
      });
    };
    return {
      url: `redis+cluster://${nodes.map(({ port }) => `127.0.0.1:${port}`).join(',')}`,
      nodes,
      primaryOf,
      async killPrimaryOf(key) {
        const killed = await primaryOf(key);
        await kill(killed);
        let promoted = 0;
        await until(async () => {
          promoted = await primaryOf(key);
          return promoted !== killed;
        }, `failed over from ${killed}`);
        await clusterOk();
        return { killed, promoted };
      },
      replicasOnline: (key) => until(async () => (await shardOf(key)).filter((n) => n.role === 'replica').every((n) => n.health === 'online'), `the replicas of ${key}'s shard online`),
      async pauseReplicasOf(key) {
        const ports = (await shardOf(key)).filter((n) => n.role === 'replica').map((n) => n.port);
        const paused = nodes.filter((n) => ports.includes(n.port));
        for (const node of paused) node.process.kill('SIGSTOP');
        return () => {
          for (const node of paused) node.process.kill('SIGCONT');
        };
      },
      async killReplicasOf(key) {
        const replicas = (await shardOf(key)).filter((n) => n.role === 'replica').map((n) => n.port);
        for (const port of replicas) await kill(port);
        await until(async () => (await shardOf(key)).every((n) => n.role !== 'replica' || n.health !== 'online'), `marking the replicas of ${key}'s shard failed`);
        return replicas;
      },
      admin,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
