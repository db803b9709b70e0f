/** The part of autocannon 9's API the HTTP benchmark uses (the package ships no types). */
declare module 'autocannon' {
  function autocannon(options: autocannon.Options): autocannon.Instance;
  namespace autocannon {
    interface RequestParams {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
    }
    interface Request extends RequestParams {
      setupRequest?: (request: RequestParams) => RequestParams;
    }
    interface Options {
      url: string;
      connections: number;
      duration: number;
      servername?: string;
      tlsOptions?: Record<string, unknown>;
      headers?: Record<string, string>;
      requests?: Request[];
      timeout?: number;
    }
    type Percentiles = Record<`p${string}`, number>;
    interface Histogram extends Percentiles {
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total?: number;
    }
    interface Result {
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      '2xx': number;
      statusCodeStats: Record<string, { count: number }>;
      latency: Histogram;
      requests: Histogram & { sent: number };
    }
    interface Instance extends PromiseLike<Result> {
      stop(): void;
    }
  }
  export = autocannon;
}
