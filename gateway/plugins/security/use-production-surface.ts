import { NoSchemaIntrospectionCustomRule, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * What production hides from clients: the schema (introspection is refused) and its shape
 * (validation errors lose their "Did you mean …?" hints, which would otherwise let a caller
 * walk the schema one typo at a time). GraphiQL is switched off in create-gateway.
 */
export function useProductionSurface(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
      return ({ valid, result, setResult }) => {
        if (valid) return;
        setResult(
          result.map((e) =>
            e.message.includes('Did you mean')
              ? new GraphQLError(e.message.replace(/ ?Did you mean .*$/s, ''), { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, extensions: e.extensions })
              : e,
          ),
        );
      };
    },
  };
}
