import type { Plugin } from 'graphql-yoga';
import { GraphQLError, type ValidationContext } from 'graphql';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import { junctionError } from '../../errors.ts';
import type { Limits } from './limits.ts';

/**
 * Shape limits, from graphql-armor, checked before execution: tokens while parsing (so a document
 * 10000 levels deep is refused after MAX_TOKENS tokens, long before the parser's recursion is
 * deep), then depth, aliases and directives as validation rules. Every refusal is QUERY_TOO_LARGE
 * with `extensions.limit` naming the limit.
 */
export function useShapeLimits(limits: Pick<Limits, 'MAX_TOKENS' | 'MAX_DEPTH' | 'MAX_ALIASES' | 'MAX_DIRECTIVES'>): Plugin {
  const refused = new WeakMap<GraphQLError, string>();
  const note = (limit: string) => [(_ctx: ValidationContext | null, error: GraphQLError) => void refused.set(error, limit)];
  const rules = [
    maxDepthRule({ n: limits.MAX_DEPTH, onReject: note('MAX_DEPTH'), propagateOnRejection: true }),
    maxAliasesRule({ n: limits.MAX_ALIASES, onReject: note('MAX_ALIASES'), propagateOnRejection: true }),
    maxDirectivesRule({ n: limits.MAX_DIRECTIVES, onReject: note('MAX_DIRECTIVES'), propagateOnRejection: true }),
  ];
  const catalogued = (error: GraphQLError, limit: string) =>
    junctionError('QUERY_TOO_LARGE', error.message.replace(/^Syntax Error: /, ''), { extensions: { limit } });

  return {
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        try {
          return new MaxTokensParserWLexer(source, { ...options, n: limits.MAX_TOKENS }).parseDocument();
        } catch (err) {
          if (err instanceof GraphQLError && /Token limit/.test(err.message)) throw catalogued(err, 'MAX_TOKENS');
          throw err;
        }
      });
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
      return ({ valid, result, setResult }) => {
        if (valid) return;
        const mapped = result.map((error) => {
          const limit = refused.get(error);
          return limit ? catalogued(error, limit) : error;
        });
        // A shape refusal says all there is to say; other validation errors would only repeat it.
        const shape = mapped.filter((e) => e.extensions?.code === 'QUERY_TOO_LARGE');
        setResult(shape.length > 0 ? shape : mapped);
      };
    },
  };
}
