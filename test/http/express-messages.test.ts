import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { expressMessageClasses } from '../../src/http/express-messages';

interface Seen {
  requestBornAsApps: boolean;
  responseBornAsApps: boolean;
}

/** A server for `app` that notes, before Express sees each request, which prototypes it was born with. */
async function serve(app: express.Express, options: http.ServerOptions): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer(options, app);
  server.prependListener('request', (req, res) => {
    seen.push({ requestBornAsApps: Object.getPrototypeOf(req) === app.request, responseBornAsApps: Object.getPrototypeOf(res) === app.response });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function echoApp(): express.Express {
  const app = express();
  app.use(express.json());
  app.post('/echo/:id', (req, res) => {
    res.status(201).set('X-Seen', req.get('x-probe') ?? 'none').json({ id: req.params.id, body: req.body as unknown });
  });
  return app;
}

describe('requests and responses born with the app’s prototypes', () => {
  it.each([
    ['reach Express already carrying app.request and app.response', true],
    ['arrive with Node’s own prototypes on a server without them', false],
  ])('%s', async (_behaviour, withClasses) => {
    const app = echoApp();
    const server = await serve(app, withClasses ? expressMessageClasses(app) : {});
    try {
      await fetch(`${server.url}/echo/a1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(server.seen).toEqual([{ requestBornAsApps: withClasses, responseBornAsApps: withClasses }]);
    } finally {
      await server.close();
    }
  });

  it('keep every Express helper working: params, headers, body, status and JSON', async () => {
    const app = echoApp();
    const server = await serve(app, expressMessageClasses(app));
    try {
      const answer = await fetch(`${server.url}/echo/a1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-probe': 'p1' },
        body: JSON.stringify({ n: 1 }),
      });
      expect(answer.status).toBe(201);
      expect(answer.headers.get('x-seen')).toBe('p1');
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await answer.json()).toEqual({ id: 'a1', body: { n: 1 } });
    } finally {
      await server.close();
    }
  });
});
