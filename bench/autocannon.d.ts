/** The part of autocannon 8's programmatic API the benchmark uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    method?: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string;
    pipelining?: number;
    timeout?: number;
    /** Each request passes through `setupRequest`, which may change it (its body, say); `onResponse` sees each answer. */
    requests?: { setupRequest?: (request: RequestParams) => RequestParams; onResponse?: (status: number, body: string) => void }[];
  }

  interface RequestParams { method?: string; path?: string; headers?: Record<string, string>; body?: string }

  interface Histogram { average: number; mean: number; stddev: number; min: number; max: number; p50: number; p99: number; total?: number; sent?: number }

  interface Result {
    duration: number;
    latency: Histogram;
    requests: Histogram;
    throughput: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }

  interface Instance extends EventEmitter {
    stop(): void;
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this;
    on(event: 'done', listener: (result: Result) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  function autocannon(options: Options, callback: (err: Error | null, result: Result) => void): Instance;
  export default autocannon;
  export type { Instance, Options, Result };
}
