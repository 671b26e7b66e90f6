/**
 * The gateway's drift check (an entry's `drift: { against, every }`): once started, each such
 * source's schema as served is compared with what `against` compiles into, and again every `every`.
 * Each breaking or dangerous change is logged (warn) with the public fields it affects, the first
 * time it is seen; the counts by level are kept for the metric `junction_contract_drift_changes`.
 *
 * Drift never stops or slows the gateway: the first check runs after start, on the scheduler, and
 * a failure to read the newer spec is a warning. What the gateway serves is the spec it loaded;
 * a newer one is a forecast (the backend may not have shipped it yet, or may ship it to some
 * clients only), and refusing to start over a forecast would turn a provider's announcement into
 * an outage. Start-up still refuses what does break the contract now (CONTRACT_MISMATCH).
 */
import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { Contract } from '../../schema/contract.ts';
import { durationMs, type MeshConfig } from '../composition/byo/mesh-config.ts';
import type { LoadedSource } from '../composition/byo/types.ts';
import { timerScheduler, type PollScheduler } from '../webhooks/poller.ts';
import { compareSource, contractTypes, emptyCounts, type DriftLevel, type DriftReport } from './index.ts';

export interface DriftMonitorOptions {
  sourcesFile: MeshConfig;
  /** Every source as loaded at start: the schemas compared. */
  sources: readonly LoadedSource[];
  contract?: Contract;
  logger: Logger;
  /** When checks run. Default: real timers, unref'd (a check never keeps the process alive). */
  scheduler?: PollScheduler;
  /** For an `against` that is a URL. Default the global fetch. */
  fetch?: typeof globalThis.fetch;
}

export interface DriftMonitor {
  /** Changes by source and level, as of each source's last check (sources checked at least once). */
  driftCounts(): Record<string, Record<DriftLevel, number>>;
  /** Stops the schedule; a check under way finishes unheard. */
  close(): void;
}

export function createDriftMonitor(options: DriftMonitorOptions): DriftMonitor {
  const { sourcesFile, contract, logger, scheduler = timerScheduler } = options;
  const watched = sourcesFile.entries.filter((entry) => entry.options.drift);
  const counts = new Map<string, Record<DriftLevel, number>>();
  const cancels = new Set<() => void>();
  let closed = false;
  let publicSchema: GraphQLSchema | undefined;

  for (const entry of watched) {
    const { against, every } = entry.options.drift!;
    const current = options.sources.find((s) => s.name === entry.name)?.schema;
    if (!current) continue;
    const seen = new Set<string>();
    const run = async () => {
      try {
        if (contract?.sources.includes(entry.name)) publicSchema ??= contractTypes(contract);
        const report = await compareSource({
          entry, current, against, baseDir: sourcesFile.baseDir,
          ...(contract ? { contract } : {}), ...(publicSchema ? { publicSchema } : {}), ...(options.fetch ? { fetch: options.fetch } : {}),
        });
        if (closed) return;
        counts.set(entry.name, report.counts);
        for (const change of report.changes) {
          const key = `${change.level}|${change.path}|${change.message}`;
          if (change.level === 'safe' || seen.has(key)) continue;
          seen.add(key);
          // `level` is the log line's own: the change's is `drift`.
          logger.warn({ source: entry.name, against, drift: change.level, change: change.message, path: change.path, publicFields: change.publicFields },
            `contract drift: ${entry.name}: ${change.level}: ${change.message} (public: ${change.publicFields.join(', ') || 'none'})`);
        }
        if (report.contractMismatch.length > 0) {
          logger.warn({ source: entry.name, against, problems: report.contractMismatch }, `contract drift: ${entry.name}: the gateway would not start with ${against} [CONTRACT_MISMATCH]`);
        }
        logger.info({ source: entry.name, against, ...report.counts }, `contract drift: ${entry.name} checked against ${against}`);
      } catch (err) {
        if (closed) return;
        logger.warn({ source: entry.name, against, err: (err as Error).message }, `contract drift: ${entry.name} could not be compared with ${against}`);
      } finally {
        if (!closed && every) schedule(run, durationMs(every));
      }
    };
    schedule(run, 0);
  }

  function schedule(run: () => Promise<void>, delayMs: number) {
    const cancel = scheduler.schedule(async () => {
      cancels.delete(cancel);
      await run();
    }, delayMs);
    cancels.add(cancel);
  }

  return {
    driftCounts: () => Object.fromEntries(counts),
    close: () => {
      closed = true;
      for (const cancel of cancels) cancel();
      cancels.clear();
    },
  };
}
