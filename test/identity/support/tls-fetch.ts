import https from 'node:https';

/** A fetch that trusts `ca` (the test certificate): what a client configured with the vault's CA does. */
export function fetchTrusting(ca: string) {
  return (url: string | URL, init: { method?: string; headers?: HeadersInit; body?: unknown } = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers ?? {}).forEach((value, name) => {
        headers[name] = value;
      });
      const req = https.request(String(url), { method: init.method ?? 'GET', headers, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
          resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: responseHeaders }));
        });
      });
      req.on('error', reject);
      if (init.body !== undefined && init.body !== null) req.write(String(init.body));
      req.end();
    });
}
