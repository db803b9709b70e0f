import type { Response } from 'express';
import helmet, { type HelmetOptions } from 'helmet';

/** helmet's defaults, with HSTS for two years (no preload) and a CSP that allows nothing: the vault serves no documents. */
export const HELMET_OPTIONS: HelmetOptions = {
  hsts: { maxAge: 63072000, includeSubDomains: true, preload: false },
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
};

/**
 * The response headers helmet sets for `options`, found once by running its middleware against
 * a response that only records them. Every value the vault configures is fixed (no per-request
 * nonce), so every answer gets the same set; applying a list costs one loop per request instead
 * of helmet's chain of a dozen middlewares, each its own call and `next`.
 */
export function securityHeaders(options: HelmetOptions = HELMET_OPTIONS): (res: Response) => void {
  const headers: Array<[name: string, value: string]> = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => headers.push([name, String(value)]),
    // helmet removes X-Powered-By; Express is told not to send it at all (app.disable).
    removeHeader: () => undefined,
  };
  let finished = false;
  helmet(options)({} as never, recorder as never, (error?: unknown) => {
    if (error) throw error;
    finished = true;
  });
  // A helmet that went asynchronous or skipped its callback would leave answers without headers.
  if (!finished || headers.length === 0) throw new Error('helmet did not set its headers synchronously');
  return (res) => {
    for (const [name, value] of headers) res.setHeader(name, value);
  };
}
