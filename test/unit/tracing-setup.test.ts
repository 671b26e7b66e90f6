import { afterEach, describe, expect, it, vi } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { createLogger } from '../../gateway/logger.ts';
import { ConfigError } from '../../gateway/config.ts';
import { DEFAULT_SERVICE_NAME, startTracing, type Tracing } from '../../gateway/tracing/setup.ts';
import { startRecordingServer, type Seen } from '../helpers/recording-server.ts';

/**
 * Which OTEL_* variables turn traces on, which stop start-up, and that the spans really leave over
 * OTLP/HTTP to the endpoint the standard variables name (a recording server stands for a collector).
 */
const quiet = createLogger('silent');
const started: Tracing[] = [];
const start = async (env: Record<string, string | undefined>) => {
  const tracing = await startTracing(env, quiet);
  if (tracing) started.push(tracing);
  return tracing;
};
afterEach(async () => {
  await Promise.all(started.splice(0).map((tracing) => tracing.shutdown()));
  vi.unstubAllEnvs();
});

const problemsOf = async (env: Record<string, string>): Promise<string[]> => {
  try {
    await startTracing(env, quiet);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('startTracing accepted the environment');
};

describe('startTracing: when traces are on', () => {
  it('is off by default, with an explicit none, and whenever OTEL_SDK_DISABLED=true', async () => {
    expect(await start({})).toBeUndefined();
    expect(await start({ OTEL_SERVICE_NAME: 'edge', OTEL_TRACES_SAMPLER: 'always_on' })).toBeUndefined();
    expect(await start({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBeUndefined();
    expect(await start({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' })).toBeUndefined();
    expect(await start({ OTEL_SDK_DISABLED: 'TRUE', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces' })).toBeUndefined();
    // Empty values are unset ones (`FOO= npm start`).
    expect(await start({ OTEL_TRACES_EXPORTER: '', OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBeUndefined();
  });

  it('is on with an OTLP endpoint, or an exporter named, under the service name junction unless told another', async () => {
    expect(await start({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toMatchObject({ exporters: ['otlp'], serviceName: DEFAULT_SERVICE_NAME });
    expect(await start({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces', OTEL_SDK_DISABLED: 'false' })).toMatchObject({ exporters: ['otlp'] });
    expect(await start({ OTEL_TRACES_EXPORTER: 'otlp' })).toMatchObject({ exporters: ['otlp'] });
    expect(await start({ OTEL_TRACES_EXPORTER: 'console', OTEL_SERVICE_NAME: 'edge-eu' })).toMatchObject({ exporters: ['console'], serviceName: 'edge-eu' });
    expect(await start({ OTEL_TRACES_EXPORTER: 'otlp, console' })).toMatchObject({ exporters: ['otlp', 'console'] });
  });
});

describe('startTracing: what stops start-up, every problem at once', () => {
  it('an exporter Junction does not have, a sampler the SDK would replace by tracing everything, a ratio out of range', async () => {
    const problems = await problemsOf({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_TRACES_SAMPLER: 'parentbased_ratio', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^OTEL_TRACES_EXPORTER="zipkin": "zipkin" is not an exporter/);
    expect(problems[1]).toMatch(/^OTEL_TRACES_SAMPLER="parentbased_ratio": must be one of/);
    expect(problems[2]).toMatch(/^OTEL_EXPORTER_OTLP_PROTOCOL="grpc": Junction exports OTLP over HTTP/);
    expect(await problemsOf({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toEqual([
      expect.stringMatching(/^OTEL_TRACES_SAMPLER_ARG="1.5": must be a ratio from 0 to 1/),
    ]);
  });

  it('a ratio given without a ratio sampler (the SDK would ignore it and trace every request)', async () => {
    expect(await problemsOf({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER_ARG: '0.01' })).toEqual([
      expect.stringMatching(/^OTEL_TRACES_SAMPLER_ARG="0.01": applies to a ratio sampler only/),
    ]);
  });
});

describe('startTracing: spans leave over OTLP/HTTP', () => {
  it('to the endpoint the OTLP variables name, batched, flushed by shutdown, with the service name and the sampler the SDK read', async () => {
    const received: Seen[] = [];
    const collector = await startRecordingServer((seen, res) => {
      received.push(seen);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    try {
      // The SDK reads the exporter's and sampler's variables from the process itself; main.ts
      // passes that same environment to startTracing.
      vi.stubEnv('OTEL_EXPORTER_OTLP_ENDPOINT', collector.url);
      vi.stubEnv('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio');
      vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '1');
      const tracing = (await startTracing(process.env, quiet))!;
      const tracer = tracing.tracerProvider.getTracer('test');
      tracer.startSpan('kept', { kind: SpanKind.SERVER }).end();
      // Batched: nothing has gone yet.
      expect(received).toEqual([]);
      await tracing.shutdown();
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ method: 'POST', url: '/v1/traces' });
      const body = JSON.parse(received[0]!.body);
      const resource = body.resourceSpans[0].resource.attributes as { key: string; value: { stringValue?: string } }[];
      expect(resource.find((attribute) => attribute.key === 'service.name')?.value.stringValue).toBe(DEFAULT_SERVICE_NAME);
      expect(body.resourceSpans[0].scopeSpans[0].spans.map((span: { name: string }) => span.name)).toEqual(['kept']);

      vi.stubEnv('OTEL_TRACES_SAMPLER_ARG', '0');
      const none = (await startTracing(process.env, quiet))!;
      none.tracerProvider.getTracer('test').startSpan('dropped').end();
      await none.shutdown();
      expect(received).toHaveLength(1);
    } finally {
      await collector.close();
    }
  });
});
