import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig } from '../../gateway/config.ts';

describe('loadConfig', () => {
  it('starts on embedded defaults with an empty environment, in production mode', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      mode: 'production',
      port: 4000,
      host: '127.0.0.1',
      sources: {
        payments: { url: undefined, demoPort: 4101 },
        maps: { url: undefined, demoPort: 4102 },
        messaging: { url: undefined, demoPort: 4103 },
      },
      upstream: { timeoutMs: DEFAULTS.upstreamTimeoutMs, maxResponseBytes: DEFAULTS.upstreamMaxResponseBytes },
      redisUrl: undefined,
      logLevel: 'info',
    });
  });

  it('turns on development mode only when NODE_ENV says so', () => {
    expect(loadConfig({ NODE_ENV: 'development' }).mode).toBe('development');
    expect(loadConfig({ NODE_ENV: 'staging' }).mode).toBe('production');
  });

  it('reads source URLs, ports and Redis from the environment', () => {
    const config = loadConfig({ PORT: '8080', PAYMENTS_URL: 'https://payments.internal:8443', REDIS_URL: 'redis://127.0.0.1:6379/2', UPSTREAM_TIMEOUT_MS: '250' });
    expect(config.port).toBe(8080);
    expect(config.sources.payments.url).toBe('https://payments.internal:8443');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379/2');
    expect(config.upstream.timeoutMs).toBe(250);
  });

  it('reports every problem at once, naming the variable and the value received', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', MAPS_URL: 'ftp://maps', UPSTREAM_TIMEOUT_MS: '0', LOG_LEVEL: 'loud', REDIS_URL: 'http://redis' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems } = error as ConfigError;
    expect(problems).toHaveLength(5);
    expect(problems.find((p) => p.startsWith('PORT='))).toContain('"eighty"');
    expect(problems.find((p) => p.startsWith('MAPS_URL='))).toContain('http(s) URL');
    expect(problems.find((p) => p.startsWith('UPSTREAM_TIMEOUT_MS='))).toContain('at least 1');
    expect(problems.find((p) => p.startsWith('REDIS_URL='))).toContain('redis://');
    expect(problems.some((p) => p.startsWith('LOG_LEVEL='))).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PAYMENTS_URL: '', PORT: '' }).port).toBe(4000);
  });

  it('returns a frozen configuration', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.sources.payments)).toBe(true);
  });
});
