/**
 * Where a public type comes from: the source and the type in that source's schema as GraphQL
 * Mesh built it from the spec. Used to carry the spec's descriptions into the public schema
 * and to check, at start-up and in tests, that the public contract still matches the specs.
 */
export interface TypeOrigin {
  /** The public type. */
  type: string;
  source: string;
  /** The type's name in the Mesh-built source schema (`.mesh/sources/<source>/schema.graphql`). */
  sourceType: string;
  /**
   * Public field -> source field, where the name is not the same or its snake_case
   * (`amountRefunded` finds `amount_refunded` on its own).
   */
  fields?: Record<string, string>;
}
