/**
 * Turns traces on from the standard OpenTelemetry variables, for main.ts: a TracerProvider to give
 * createGateway (`tracerProvider`), and its shutdown, which exports the spans still queued.
 *
 * Off by default: on only when `OTEL_TRACES_EXPORTER` names an exporter (`otlp`, `console`) or an
 * OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`);
 * `OTEL_SDK_DISABLED=true` keeps it off whatever else is set.
 *
 * The SDK reads the rest itself, from the process's environment (main.ts passes that same
 * environment here): the sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`; its default is
 * `parentbased_always_on`), the OTLP exporter's endpoint, headers, timeout and compression
 * (`OTEL_EXPORTER_OTLP_*`), the batch processor's queue and delay (`OTEL_BSP_*`), span limits and
 * `OTEL_RESOURCE_ATTRIBUTES`. What it would quietly replace by a default when invalid is checked
 * here first, so that a mistyped sampler stops start-up rather than tracing every request.
 *
 * Only the provider is made: nothing is registered globally (no global tracer provider, context
 * manager or propagator), except OpenTelemetry's diagnostic logger, which is the only way to hear
 * of failed exports: its warnings and errors go to the gateway's log. The SDK and the exporter are
 * imported only when traces are on (together about 80 ms and 15 MB of a start-up otherwise).
 */
import type { TracerProvider } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import { ConfigError } from '../config.ts';

/** The service name spans are exported under unless OTEL_SERVICE_NAME (or OTEL_RESOURCE_ATTRIBUTES) says another. */
export const DEFAULT_SERVICE_NAME = 'junction';

/** The samplers the SDK knows (OpenTelemetry's specification, "General SDK configuration"). */
const SAMPLERS = new Set(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']);
const EXPORTERS = new Set(['otlp', 'console', 'none']);

export interface Tracing {
  tracerProvider: TracerProvider;
  /** Which exporters spans go to (`otlp`, `console`). */
  exporters: string[];
  serviceName: string;
  /** Exports the spans still queued, then stops; after the server has closed. */
  shutdown(): Promise<void>;
}

/** The traces the OTEL_* variables ask for, or undefined when they ask for none (the default). */
export async function startTracing(env: Record<string, string | undefined>, logger: Logger): Promise<Tracing | undefined> {
  const value = (name: string) => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  if (value('OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return undefined;
  const problems: string[] = [];
  const named = value('OTEL_TRACES_EXPORTER')?.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '');
  for (const name of named ?? []) {
    if (!EXPORTERS.has(name)) problems.push(`OTEL_TRACES_EXPORTER=${JSON.stringify(env.OTEL_TRACES_EXPORTER)}: ${JSON.stringify(name)} is not an exporter Junction has (otlp, console, none)`);
  }
  const endpoint = value('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? value('OTEL_EXPORTER_OTLP_ENDPOINT');
  // The specification's default exporter is otlp; Junction's is none, unless an endpoint is given.
  const exporters = [...new Set(named ?? (endpoint !== undefined ? ['otlp'] : []))].filter((name) => name !== 'none');
  const sampler = value('OTEL_TRACES_SAMPLER');
  if (sampler !== undefined && !SAMPLERS.has(sampler)) {
    problems.push(`OTEL_TRACES_SAMPLER=${JSON.stringify(sampler)}: must be one of ${[...SAMPLERS].join(', ')}`);
  }
  const ratio = value('OTEL_TRACES_SAMPLER_ARG');
  if (ratio !== undefined && !sampler?.endsWith('traceidratio')) {
    // Ignored by the SDK, which would then trace every request: surely not what was meant.
    problems.push(`OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(ratio)}: applies to a ratio sampler only; set OTEL_TRACES_SAMPLER=parentbased_traceidratio (or traceidratio)`);
  } else if (ratio !== undefined && !(Number(ratio) >= 0 && Number(ratio) <= 1)) {
    problems.push(`OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(ratio)}: must be a ratio from 0 to 1 (0.01 traces one request in a hundred)`);
  }
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const protocol = value(name);
    if (protocol !== undefined && protocol !== 'http/json' && protocol !== 'http/protobuf') {
      problems.push(`${name}=${JSON.stringify(protocol)}: Junction exports OTLP over HTTP (http/json; a collector's HTTP port, 4318, takes it)`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (exporters.length === 0) return undefined;

  const [{ diag, DiagLogLevel }, { OTLPTraceExporter }, { defaultResource, detectResources, envDetector, resourceFromAttributes }, { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter }] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  const fromEnv = detectResources({ detectors: [envDetector] });
  const serviceName = value('OTEL_SERVICE_NAME') ?? (fromEnv.attributes['service.name'] as string | undefined) ?? DEFAULT_SERVICE_NAME;
  const spanExporters: SpanExporter[] = exporters.map((name) => (name === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter()));
  const tracerProvider = new BasicTracerProvider({
    resource: defaultResource().merge(fromEnv).merge(resourceFromAttributes({ 'service.name': serviceName })),
    // Batched: a span costs the request a push onto a queue; exports happen on a timer.
    spanProcessors: spanExporters.map((exporter) => new BatchSpanProcessor(exporter)),
  });
  diag.setLogger({
    error: (message, ...args) => logger.error({ args }, `OpenTelemetry: ${message}`),
    warn: (message, ...args) => logger.warn({ args }, `OpenTelemetry: ${message}`),
    info: () => undefined,
    debug: () => undefined,
    verbose: () => undefined,
  }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  logger.info({ exporters, serviceName, sampler: sampler ?? 'parentbased_always_on', ...(ratio !== undefined ? { ratio } : {}) }, 'traces on (OpenTelemetry)');
  return {
    tracerProvider,
    exporters,
    serviceName,
    async shutdown() {
      try {
        await tracerProvider.shutdown();
      } finally {
        diag.disable();
      }
    },
  };
}
