import type { Request, Router } from 'express';
import type { AuditSink } from '../../audit/writer';
import { z } from 'zod';
import { parseInput } from '../../vault/input/parse-input';
import { email } from '../../vault/input/contact-rules';
import { parseSubjectInput, parseSubjectPatch, preferences } from '../../vault/input/subject-input';
import { optionalIfMatch, requiredIfMatch } from '../../vault/if-match';
import type { VaultDomain } from '../../vault/vault';
import { VaultError } from '../../errors/vault-error';
import { accessContextOf } from '../access-context';
import { principalOf } from '../middleware/authenticate';
import type { SecuredRoutes } from '../secured-routes';
import type { Caller } from '../../vault/caller';
import { caseSensitiveRouter } from '../route-table';
import { auditRefusals } from './audit-refusals';

const SearchBody = z.strictObject({ email }, { error: (i) => (i.code === 'unrecognized_keys' ? 'unknown property' : 'the search must be a JSON object') });
const IDEMPOTENCY_KEY = /^[\x21-\x7E]{1,255}$/;

/** The subject routes: each parses, calls one domain function, answers. */
export function subjectRoutes(routes: SecuredRoutes, vault: VaultDomain, audit: AuditSink): Router {
  const router = caseSensitiveRouter();

  routes.add(router, '/v1/subjects', 'subjects:write', {
    post: async (req, res) => {
      refuseTransactional(preferencesIn(req.body), '/preferences');
      const input = parseSubjectInput(req.body);
      const result = await vault.subjects.create(callerOf(req), input, idempotencyKeyOf(req));
      res.status(result.created ? 201 : 200).location(`/v1/subjects/${result.view.id}`).setHeader('ETag', result.etag);
      res.json(result.view);
    },
  });
  routes.add(router, '/v1/subjects/search', 'subjects:search', {
    post: async (req, res) => {
      const body = parseInput(SearchBody, req.body, 'search');
      res.json(await vault.subjects.search(callerOf(req), body.email));
    },
  });
  routes.add(router, '/v1/subjects/:id', { get: 'subjects:read', patch: 'subjects:write', delete: 'subjects:write' }, {
    get: async (req, res) => {
      const result = await vault.subjects.get(callerOf(req), idOf(req));
      res.setHeader('ETag', result.etag).json(result.view);
    },
    patch: async (req, res) => {
      refuseTransactional(preferencesIn(req.body), '/preferences');
      const ifMatch = requiredIfMatch(req.get('if-match'));
      const patch = parseSubjectPatch(req.body);
      const result = await vault.subjects.update(callerOf(req), idOf(req), patch, ifMatch);
      res.setHeader('ETag', result.etag).json(result.view);
    },
    delete: async (req, res) => {
      await vault.subjects.erase(callerOf(req), idOf(req), optionalIfMatch(req.get('if-match')));
      res.status(204).end();
    },
  });
  routes.add(router, '/v1/subjects/:id/preferences', 'preferences:write', {
    // The subject's ETag comes with its preferences: a change of them is a new version of the subject.
    get: async (req, res) => {
      const result = await vault.subjects.preferences(callerOf(req), idOf(req));
      res.setHeader('ETag', result.etag).json(result.view);
    },
    put: async (req, res) => {
      const ifMatch = optionalIfMatch(req.get('if-match'));
      refuseTransactional(req.body);
      const body = parseInput(preferences, req.body, 'set of preferences');
      if (Object.keys(body).length === 0) throw new VaultError('validation_failed', 422, 'The preferences are not valid', { errors: [{ pointer: '', detail: 'name at least one preference' }] });
      const result = await vault.subjects.setPreferences(callerOf(req), idOf(req), body, ifMatch);
      res.setHeader('ETag', result.etag).json(result.view);
    },
  });
  routes.add(router, '/v1/subjects/:id/export', 'subjects:read', {
    get: async (req, res) => {
      res.json(await vault.exports.export(callerOf(req), idOf(req)));
    },
  });
  router.use('/v1/subjects', auditRefusals(audit, 'subjects.access'));
  return router;
}

export const callerOf = (req: Request): Caller => ({ principal: principalOf(req), context: accessContextOf(req) });
const idOf = (req: Request) => String(req.params.id);

function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) throw new VaultError('invalid_idempotency_key', 400, 'Idempotency-Key must be 1–255 visible ASCII characters');
  return key;
}

// Names a caller may reach for when it tries to set transactional messages (the purpose's own name among them).
const TRANSACTIONAL_NAMES = ['transactional', 'transactional_email'];

/**
 * The same refusal wherever preferences are set (PUT .../preferences, or `preferences` in a
 * create or a PATCH): transactional messages are not a preference, whichever value is sent.
 */
function refuseTransactional(preferences: unknown, at = ''): void {
  const named = preferences && typeof preferences === 'object' ? TRANSACTIONAL_NAMES.find((name) => Object.hasOwn(preferences, name)) : undefined;
  if (named) {
    throw new VaultError('transactional_cannot_be_disabled', 422, 'Account and transaction messages are always sent: they are not a preference', {
      errors: [{ pointer: `${at}/${named}`, detail: 'transactional messages cannot be switched off or on; leave this property out' }],
    });
  }
}

const preferencesIn = (body: unknown): unknown => (body && typeof body === 'object' ? (body as { preferences?: unknown }).preferences : undefined);
