import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';
import { ANONYMOUS, type Principal } from '../../auth/principal.ts';
import { operationCost } from './cost.ts';
import { maxCostFor, type Limits } from './limits.ts';

/**
 * Refuses an operation whose cost (cost.ts: objects times list sizes) is over the caller's
 * budget, after validation and before the first resolver: no backend is called for it.
 */
export function useCostLimit(limits: Limits): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const principal = (args.contextValue as { principal?: Principal }).principal ?? ANONYMOUS;
      const maxCost = maxCostFor(limits, principal);
      const cost = operationCost(args.schema, args.document, args.operationName, args.variableValues);
      if (cost <= maxCost) return;
      setResultAndStopExecution({
        errors: [junctionError('QUERY_TOO_COSTLY', `This operation could cost ${cost}, over the ${maxCost} allowed to this caller: ask for fewer items (smaller \`first\`) or fewer nested lists.`, {
          extensions: { cost, maxCost },
        })],
      });
    },
  };
}
