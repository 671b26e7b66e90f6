import type { Plugin } from 'graphql-yoga';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable } from '@envelop/core';
import { junctionError } from '../../errors.ts';
import type { Principal } from '../../../schema/principal.ts';
import { currentCursor } from './subscriptions.ts';

/** setTimeout's largest delay (a longer one fires at once). */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Every subscription's stream of messages, as a client receives it over SSE or WebSocket:
 * - each message carries the cursor of the event it answers (`extensions.cursor`; over SSE also its
 *   `id:`), from which the client resumes after a reconnection;
 * - a subscription opened with a token ends when the token expires, with a last message whose error
 *   is `TOKEN_EXPIRED` (a token is checked once, at subscribe, and must not outlive its own `exp`);
 * - a stream that fails (a subscriber too slow, a cursor too old, a source stream's error) ends
 *   with a last message carrying the catalogued error, instead of a connection broken without a word.
 */
export function useSubscriptionResults(now: () => number = () => Date.now()): Plugin {
  return {
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const context = args.contextValue as { principal?: Principal };
          setResult(messages(result as AsyncIterable<ExecutionResult>, context, context.principal?.expiresAt, now));
        },
      };
    },
  };
}

const EXPIRED = Symbol('expired');

function messages(results: AsyncIterable<ExecutionResult>, context: object, expiresAt: number | undefined, now: () => number): AsyncIterableIterator<ExecutionResult> {
  const inner = results[Symbol.asyncIterator]();
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const expiry = expiresAt === undefined ? undefined : new Promise<typeof EXPIRED>((resolve) => {
    const arm = () => {
      const left = expiresAt - now();
      if (left > 0) timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      else resolve(EXPIRED);
    };
    arm();
  });
  const finish = async () => {
    done = true;
    clearTimeout(timer);
    await inner.return?.();
  };
  /** The stream's last message: the error; the end comes next. */
  const lastMessage = async (error: GraphQLError): Promise<IteratorResult<ExecutionResult>> => {
    await finish();
    return { done: false, value: { errors: [error] } };
  };
  return {
    async next() {
      if (done) return { done: true, value: undefined };
      let step: IteratorResult<ExecutionResult> | typeof EXPIRED;
      try {
        step = await (expiry ? Promise.race([inner.next(), expiry]) : inner.next());
      } catch (err) {
        if (err instanceof GraphQLError) return lastMessage(err);
        await finish();
        throw err;
      }
      if (step === EXPIRED) {
        return lastMessage(junctionError('TOKEN_EXPIRED', 'The access token this subscription was opened with has expired; subscribe again with a fresh token (and the cursor of the last event, to miss nothing).'));
      }
      if (step.done) {
        await finish();
        return step;
      }
      const cursor = currentCursor(context);
      return { done: false, value: cursor === undefined ? step.value : { ...step.value, extensions: { ...step.value.extensions, cursor } } };
    },
    async return() {
      if (!done) await finish();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
