import type { PollScheduler } from '../../gateway/webhooks/poller.ts';

/** Runs polls when told: `tick()` runs every round due and resolves once each has ended. */
export function manualPolls(): PollScheduler & { tick(): Promise<void> } {
  let due: (() => Promise<void>)[] = [];
  return {
    schedule(run) {
      due.push(run);
      return () => {
        due = due.filter((r) => r !== run);
      };
    },
    async tick() {
      const now = due;
      due = [];
      await Promise.all(now.map((run) => run()));
    },
  };
}
