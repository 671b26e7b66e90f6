import type { AsyncLocalStorage } from 'node:async_hooks';
import type { Plugin } from 'graphql-yoga';

/**
 * One deadline per request (REQUEST_DEADLINE_MS from the start of execution) for every backend
 * call the request causes, including those a DataLoader makes a tick later: each call's timeout is
 * cut to what is left of it, and retries stop when little is left. A request can then never wait
 * on backends for longer than its deadline, however many calls, levels or retries it needs.
 */
export function useDeadline(store: AsyncLocalStorage<number>, deadlineMs: number): Plugin {
  return {
    instrumentation: {
      execute(_payload, wrapped) {
        return store.run(Date.now() + deadlineMs, wrapped);
      },
    },
  };
}
