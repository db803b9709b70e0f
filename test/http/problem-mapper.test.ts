import { Writable } from 'node:stream';
import express from 'express';
import request from 'supertest';
import '../../src/http/request-context';
import { problemHandler } from '../../src/http/problem';
import { createLogger } from '../../src/observability/logger';
import { VaultError } from '../../src/errors/vault-error';

function appThrowing(error: unknown) {
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write(c, _e, done) { lines.push(String(c)); done(); } }));
  const app = express();
  app.use((req, _res, next) => { req.requestId = 'req_test'; next(); });
  app.get('/boom', () => { throw error; });
  app.post('/oauth/token', () => { throw error; });
  app.use(problemHandler(logger));
  return { app, lines };
}

describe('the problem mapper', () => {
  it('turns an unexpected error into a 500 with no internals in the body, and logs it', async () => {
    const { app, lines } = appThrowing(new Error('connect ECONNREFUSED 10.1.2.3:5432 password=hunter2'));
    const res = await request(app).get('/boom').expect(500);
    expect(res.body).toEqual({
      type: 'urn:pdvault:problem:internal_error',
      title: 'The vault could not complete the request',
      status: 500,
      code: 'internal_error',
      request_id: 'req_test',
    });
    expect(res.text).not.toContain('ECONNREFUSED');
    expect(lines.join('')).toContain('request failed');
  });

  it('logs a dependency outage (503) as one warning line with its cause and no stack', async () => {
    const { app, lines } = appThrowing(new VaultError('database_unavailable', 503, 'The database is unavailable'));
    await request(app).get('/boom').expect(503);
    const [line, ...others] = lines.join('').split('\n').filter(Boolean).map((text) => JSON.parse(text));
    expect(others).toEqual([]);
    expect(line).toMatchObject({ level: 'warn', problem: 'database_unavailable', msg: 'request refused: a dependency is unavailable' });
    expect(JSON.stringify(line)).not.toContain('stack');
  });

  it.each([
    ['the database gone or renamed', '3D000', 'database "pdvault" does not exist'],
    ['the password changed under the vault', '28P01', 'password authentication failed for user "pdvault"'],
    ['no pg_hba.conf entry any more', '28000', 'no pg_hba.conf entry for host'],
    ['a database not accepting connections', '55000', 'database "pdvault" is not currently accepting connections'],
    ['a host name that no longer resolves', 'ENOTFOUND', 'getaddrinfo ENOTFOUND db.internal'],
  ])('answers a new session refused (%s) with 503 database_unavailable and Retry-After', async (_label, code, message) => {
    const { app } = appThrowing(Object.assign(new Error(message), { code }));
    const res = await request(app).get('/boom').expect(503);
    expect([res.body.code, res.headers['retry-after']]).toEqual(['database_unavailable', '1']);
  });

  it('knows a database not accepting connections by the server routine that says so, in whatever language the server answers', async () => {
    const { app } = appThrowing(Object.assign(new Error('la base de données « pdvault » n\'accepte pas les connexions'), { code: '55000', routine: 'CheckMyDatabase' }));
    expect((await request(app).get('/boom').expect(503)).body.code).toBe('database_unavailable');
  });

  it('answers 55000 from a statement (an object not in the state it needs) as the vault fault it is: 500', async () => {
    const { app } = appThrowing(Object.assign(new Error('currval of sequence "s" is not yet defined in this session'), { code: '55000' }));
    await request(app).get('/boom').expect(500);
  });

  it('answers a dependency outage at an OAuth endpoint as RFC 6749 temporarily_unavailable, with Retry-After', async () => {
    const { app } = appThrowing(new VaultError('audit_unavailable', 503, 'The audit trail cannot be written', { headers: { 'Retry-After': '2' } }));
    const res = await request(app).post('/oauth/token').expect(503);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The audit trail cannot be written' });
    expect([res.headers['retry-after'], res.headers.pragma]).toEqual(['2', 'no-cache']);
  });

  it('hides the detail of a 5xx VaultError but keeps its code', async () => {
    const { app } = appThrowing(new VaultError('kms_unavailable', 503, 'The key service is unavailable', { detail: 'internal host kms-1' }));
    const res = await request(app).get('/boom').expect(503);
    expect(res.body.code).toBe('kms_unavailable');
    expect(res.body.detail).toBeUndefined();
  });

  it('shows the detail and field errors of a 4xx VaultError', async () => {
    const { app } = appThrowing(new VaultError('invalid_field', 422, 'Invalid', { detail: 'd', errors: [{ pointer: '/email', detail: 'bad' }] }));
    const res = await request(app).get('/boom').expect(422);
    expect(res.body).toMatchObject({ code: 'invalid_field', detail: 'd', errors: [{ pointer: '/email', detail: 'bad' }] });
  });
});
