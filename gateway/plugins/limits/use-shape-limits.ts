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
  const catalogued = (error: GraphQLError, limit: string) =>
    junctionError('QUERY_TOO_LARGE', error.message.replace(/^Syntax Error: /, ''), { extensions: { limit } });
  // graphql-armor's rules throw by default, which skips validation's error handling; reported
  // instead, each as a catalogued error, they come out as a 400 like any validation error.
  const report = (limit: string) => ({
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(catalogued(error, limit))],
  });
  const rules = [
    maxDepthRule({ n: limits.MAX_DEPTH, ...report('MAX_DEPTH') }),
    maxAliasesRule({ n: limits.MAX_ALIASES, ...report('MAX_ALIASES') }),
    maxDirectivesRule({ n: limits.MAX_DIRECTIVES, ...report('MAX_DIRECTIVES') }),
  ];

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
        // A shape refusal says all there is to say; other validation errors would only repeat it.
        const shape = result.filter((e) => e.extensions?.code === 'QUERY_TOO_LARGE');
        if (shape.length > 0) setResult(shape);
      };
    },
  };
}
