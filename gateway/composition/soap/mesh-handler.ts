/**
 * Junction's SOAP handler as a GraphQL Mesh v0 handler, so `.meshrc.yaml` can use it in place of
 * the stock one:
 *
 * ```yaml
 * - name: weather
 *   handler:
 *     ./gateway/composition/soap/mesh-handler.ts:
 *       source: ./contracts/weather.wsdl
 *       soapVersion: '1.1'
 * ```
 *
 * `config` is SoapSourceOptions without `name` and `cwd`: the source name comes from Mesh and
 * relative paths resolve against Mesh's `baseDir`.
 */
import type { GraphQLSchema } from 'graphql';
import { loadSoapSource, type SoapSourceOptions } from './index.ts';

export type SoapHandlerConfig = Omit<SoapSourceOptions, 'name' | 'cwd'>;

/** The parts of Mesh's `MeshHandlerOptions` this handler reads (the rest is accepted and unused). */
export interface SoapHandlerOptions {
  name: string;
  config: SoapHandlerConfig;
  baseDir?: string;
  [other: string]: unknown;
}

export default class JunctionSoapHandler {
  private readonly name: string;
  private readonly config: SoapHandlerConfig;
  private readonly baseDir: string;

  constructor({ name, config, baseDir }: SoapHandlerOptions) {
    this.name = name;
    this.config = config;
    this.baseDir = baseDir ?? process.cwd();
  }

  /** Mesh passes its own fetch (with its plugins); an explicitly configured one wins. */
  async getMeshSource(payload: { fetchFn?: unknown } = {}): Promise<{ schema: GraphQLSchema }> {
    const fetchFn = this.config.fetch ?? (typeof payload.fetchFn === 'function' ? (payload.fetchFn as typeof fetch) : undefined);
    const loaded = await loadSoapSource({ ...this.config, name: this.name, cwd: this.baseDir, fetch: fetchFn });
    return { schema: loaded.schema };
  }
}
