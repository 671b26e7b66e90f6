import type { ExecutionArgs, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { junctionError } from '../../errors.ts';
import { ANONYMOUS, type Principal } from '../../../schema/principal.ts';
import { operationCost } from './cost.ts';
import { maxCostFor, type Limits } from './limits.ts';

/**
 * Refuses an operation whose cost (cost.ts: objects times list sizes) is over the caller's
 * budget, or whose fragments written out in place hold more than MAX_SELECTIONS field selections,
 * after validation and before it is compiled or any resolver runs: no backend is called for it.
 */
export function useCostLimit(limits: Limits): Plugin {
  /** The refusal an operation's cost earns, if any. */
  const refusal = (args: ExecutionArgs): ExecutionResult | undefined => {
    const principal = (args.contextValue as { principal?: Principal }).principal ?? ANONYMOUS;
    const maxCost = maxCostFor(limits, principal);
    const { cost, selections } = operationCost(args.schema, args.document, args.operationName, args.variableValues);
    if (selections > limits.MAX_SELECTIONS) {
      return {
        errors: [junctionError('QUERY_TOO_COSTLY', `This operation holds ${selections} field selections once its fragments are written out in place, over the ${limits.MAX_SELECTIONS} allowed: spread fewer fragments, or each fewer times.`, {
          extensions: { limit: 'MAX_SELECTIONS', selections, maxSelections: limits.MAX_SELECTIONS },
        })],
      };
    }
    if (cost <= maxCost) return undefined;
    return {
      errors: [junctionError('QUERY_TOO_COSTLY', `This operation could cost ${cost}, over the ${maxCost} allowed to this caller: ask for fewer items (smaller \`first\`) or fewer nested lists.`, {
        extensions: { cost, maxCost },
      })],
    };
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) setResultAndStopExecution(refused);
    },
    // A subscription is priced as the operation each of its events runs, before it starts.
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = refusal(args);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}
