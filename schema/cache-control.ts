/**
 * `@cacheControl(maxAge, scope)`: what the response cache (gateway/cache/response-cache.ts, over
 * @graphql-yoga/plugin-response-cache) may keep, for how long and for whom. The plugin reads the
 * directive from the schema; this module only declares it, with descriptions.
 */
export const typeDefs = /* GraphQL */ `
  "Who a cached answer may be served to."
  enum CacheControlScope {
    "Anyone: the answer does not depend on who asked."
    PUBLIC
    "Only the caller it was made for (the same identity and scopes)."
    PRIVATE
  }
  "How long an answer holding this may be kept in Junction's response cache (seconds), and for whom. Without it, nothing is kept."
  directive @cacheControl(maxAge: Int, scope: CacheControlScope) on FIELD_DEFINITION | OBJECT
`;
