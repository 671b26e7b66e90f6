import { NoSchemaIntrospectionCustomRule, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Principal } from '../../../schema/principal.ts';
import { DEVELOPER_SCOPE } from '../limits/limits.ts';

/**
 * What production hides from clients: the schema (introspection is refused) and its shape
 * (validation errors lose their "Did you mean …?" hints, which would otherwise let a caller
 * walk the schema one typo at a time). GraphiQL is switched off in create-gateway. A developer
 * (a caller holding the `junction:developer` scope) may still introspect.
 */
export function useProductionSurface(principalOf: (request: Request) => Promise<Principal>): Plugin {
  // Validation cannot wait for anything, so who is calling is worked out just before it.
  const developers = new WeakSet<Request>();
  return {
    async onParams({ request }) {
      if ((await principalOf(request)).scopes.has(DEVELOPER_SCOPE)) developers.add(request);
    },
    onValidate({ addValidationRule, context }) {
      const request = (context as { request?: Request }).request;
      if (!request || !developers.has(request)) addValidationRule(NoSchemaIntrospectionCustomRule);
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
