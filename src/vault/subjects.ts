import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { canonicalJson } from '../audit/chain';
import type { BlindIndex, IndexValue } from '../crypto/blind-index';
import type { KeyHierarchy } from '../crypto/key-hierarchy';
import type { Sealed } from '../crypto/sealed';
import { VaultError } from '../errors/vault-error';
import type { DataAction } from '../policy/actions';
import { assertAllowed, refusedBySubject, type Allowed, type SubjectFacts, type SubjectLookup } from '../policy/decision';
import type { DecisionPoint } from '../policy/decision-point';
import { effectivePreferences, type PreferenceDefaults, type Preferences } from '../policy/preferences';
import type { ConsentHistoryStore } from '../store/consent-history';
import type { Database } from '../store/database';
import { BlindIndexKeysBehind } from '../store/blind-index-keys';
import type { IdempotencyKeyRef, IdempotencyKeyStore, IdempotencyRecord } from '../store/idempotency-keys';
import { ExternalIdTaken, SEARCH_LIMIT, SEARCH_SCAN_LIMIT, type SealedSubjectField, type SearchPosition, type SubjectChanges, type SubjectRecord, type SubjectStore } from '../store/subjects';
import type { Caller } from './caller';
import { DecidedWrite, disclose, rereadUnderChoices } from './decided-write';
import { assertIfMatch, etagOf, type IfMatch } from './if-match';
import { isSubjectId, newSubjectId, subjectNotFound } from './ids';
import { PERSONAL_FIELDS, type PersonalField, type PreferencesInput, type SubjectInput, type SubjectPatch } from './input/subject-input';
import { indexKeysKeptChanging, openRereadingAfterKeyChange, SealedUnderRetiredKey, writeOnceMoreAfterRekey } from './key-changes';
import type { SubjectReads } from './subject-reads';
import { SUBJECT_READ_FIELDS, type SubjectRenderer, type SubjectView, type WrittenFields } from './subject-view';
import { holdsNumber } from '../observability/planted-numbers';

export interface SubjectResult {
  view: SubjectView;
  etag: string;
}

export interface SubjectDependencies {
  db: Database;
  keys: KeyHierarchy;
  index: BlindIndex;
  subjects: SubjectStore;
  reads: SubjectReads;
  consent: ConsentHistoryStore;
  idempotency: IdempotencyKeyStore;
  decisions: DecisionPoint;
  renderer: SubjectRenderer;
  preferenceDefaults: PreferenceDefaults;
}

export const factsOf = (record: Pick<SubjectRecord, 'id' | 'preferences'>): SubjectFacts => ({ id: record.id, preferences: record.preferences });

/** What a lookup by `id` decides on: the subject's facts, or a lookup that found nothing (audited as such). */
export const factsOrMissing = (id: string, record: Pick<SubjectRecord, 'id' | 'preferences'> | undefined): SubjectLookup =>
  record ? factsOf(record) : { missing: isSubjectId(id) && !holdsNumber(id) ? id : null };

/**
 * Subjects: create, read, update and erase, each in the order the vault promises — decide
 * (and audit) first, then seal or open, then answer.
 */
export class Subjects {
  constructor(private readonly deps: SubjectDependencies) {}

  async create(caller: Caller, input: SubjectInput, idempotencyKey?: string): Promise<SubjectResult & { created: boolean }> {
    // The id is chosen first so the creation's audit event names the subject it made.
    const id = newSubjectId();
    const write = new DecidedWrite(this.deps.decisions, caller);
    return write.run(async () => {
      // Consent is the record owner's to set: any other purpose is refused for that first, the
      // same whatever the preferences sent would say of its own category.
      if (hasPreferences(input.preferences)) write.restsOn(await this.decide(caller, 'preferences.write', { id, preferences: input.preferences }, []));
      const decision = write.restsOn(await this.decide(caller, 'subjects.create', { id, preferences: input.preferences }, fieldsDecidedOn(input)));
      return this.createDecided(caller, id, input, decision, write, idempotencyKey);
    });
  }

  /** The creation its decisions allowed: a new subject, or the one an earlier request with the same Idempotency-Key made. */
  private async createDecided(caller: Caller, id: string, input: SubjectInput, decision: Allowed, write: DecidedWrite, idempotencyKey: string | undefined) {
    const keyRef = idempotencyKey === undefined ? undefined : { ...(await this.deps.index.idempotencyKey(caller.principal.clientId, idempotencyKey)), sent: idempotencyKey };
    if (keyRef) {
      const earlier = await this.deps.idempotency.find(caller.principal.clientId, keyRef);
      if (earlier) return this.replay(caller, earlier, input, write);
    }
    const request = keyRef ? await this.deps.index.request(canonicalJson(input)) : undefined;
    // Everything that may need a second pooled connection happens before the transaction opens.
    const emailIndex = input.email === undefined ? undefined : await this.deps.index.email(input.email);
    const subjectKey = await this.deps.keys.prepareSubjectKey(id);
    const { sealed, written } = await this.seal(input, (field, text) => this.deps.keys.sealUnderPrepared(subjectKey, field, text));
    const changes: SubjectChanges = {
      externalId: input.external_id ?? null,
      sealed,
      emailIndex: emailIndex ?? null,
      preferences: input.preferences ?? {},
    };
    const insert = (trx?: Knex.Transaction) => this.deps.subjects.insertWithKey(id, changes, this.deps.keys.subjectKeyRowOf(subjectKey), trx).catch(translateWriteError);
    const insertWithConsent = (claim?: (trx: Knex.Transaction) => Promise<IdempotencyRecord | undefined>) =>
      this.deps.db.transaction(async (trx): Promise<{ record: SubjectRecord } | { replayOf: IdempotencyRecord }> => {
        const winner = await claim?.(trx);
        if (winner) return { replayOf: winner };
        const record = await insert(trx);
        await this.recordConsent(id, input.preferences, caller, trx);
        return { record };
      });
    let outcome: { record: SubjectRecord } | { replayOf: IdempotencyRecord };
    try {
      // The subject and its key are one statement; a transaction only when more must land with them.
      if (keyRef && request) {
        const recorded = { requestHash: request.value, requestHashVersion: request.version, subjectId: id };
        outcome = await this.withCurrentKeyDigests(caller.principal.clientId, keyRef, (ref) => insertWithConsent((trx) => this.deps.idempotency.claim(caller.principal.clientId, ref, recorded, trx)));
      } else {
        outcome = hasPreferences(input.preferences) ? await insertWithConsent() : { record: await insert() };
      }
    } catch (error) {
      this.deps.keys.settlePreparedKey(subjectKey, false);
      throw error;
    }
    this.deps.keys.settlePreparedKey(subjectKey, 'record' in outcome);
    if ('replayOf' in outcome) return this.replay(caller, outcome.replayOf, input, write);
    return { view: await this.deps.renderer.render(outcome.record, decision, written), etag: etagOf(outcome.record), created: true };
  }

  /**
   * Runs a claim of the Idempotency-Key with its digests under every blind-index version; when
   * another instance added one this instance has not loaded, the claim's transaction is rolled
   * back, the version is loaded outside it, and the claim runs again.
   */
  private async withCurrentKeyDigests<T>(clientId: string, keyRef: IdempotencyKeyRef, claim: (ref: IdempotencyKeyRef) => Promise<T>): Promise<T> {
    for (let ref = keyRef, attempt = 1; ; attempt++) {
      try {
        return await claim(ref);
      } catch (error) {
        if (!(error instanceof BlindIndexKeysBehind)) throw error;
        // Only a rotation after every reload: three in one request do not happen.
        if (attempt === 3) throw indexKeysKeptChanging();
        ref = { ...(await this.deps.index.idempotencyKey(clientId, ref.sent, error.version)), sent: ref.sent };
      }
    }
  }

  async get(caller: Caller, id: string): Promise<SubjectResult> {
    const record = isSubjectId(id) ? await this.deps.reads.find(id) : undefined;
    // Decided (and audited) before existence is told, so a caller without the purpose cannot probe ids.
    const decision = await this.decide(caller, 'subjects.read', factsOrMissing(id, record), SUBJECT_READ_FIELDS);
    if (!record) throw subjectNotFound();
    // A re-key may make the row be read again, at a later version: its ETag is the one answered.
    let shown = record;
    const reread = () => rereadUnderChoices(this.deps.decisions, decision, () => this.deps.reads.again(id));
    const view = await disclose(this.deps.decisions, caller, decision, () =>
      openRereadingAfterKeyChange(record, reread, (read) => {
        shown = read;
        return this.deps.renderer.render(read, decision);
      }),
    );
    return { view, etag: etagOf(shown) };
  }

  async update(caller: Caller, id: string, patch: SubjectPatch, ifMatch: IfMatch): Promise<SubjectResult> {
    // Decided and sealed before the row is locked: a transaction that waits for a second pooled
    // connection while writers queue on its lock would exhaust the pool.
    const before = isSubjectId(id) ? await this.deps.subjects.find(id) : undefined;
    // The answer shows the fields the write changed, whatever else the decision was about.
    const write = new DecidedWrite(this.deps.decisions, caller);
    const allowed = write.restsOn(await this.decide(caller, 'subjects.update', factsOrMissing(id, before), fieldsDecidedOn(patch)));
    const decision = showingOnly(allowed, patch);
    if (!before) throw subjectNotFound();
    const { updated, written } = await write.run(async () => {
      // Consent is changed by a client entitled to record it, whichever route carries it.
      if (hasPreferences(patch.preferences)) write.restsOn(await this.decide(caller, 'preferences.write', factsOf(before), []));
      const emailIndex = patch.email ? await this.deps.index.email(patch.email) : patch.email === null ? null : undefined;
      const choicesHold = await this.deps.decisions.choicesCheck(allowed);
      return writeOnceMoreAfterRekey(() => this.writePatch(caller, id, patch, ifMatch, emailIndex, choicesHold));
    });
    // Answered with what this write may show (the fields it changed), like a create: a writer
    // without read access is not refused after its change has landed.
    // Overtaken by a re-key, the row read again is the truth: rendered as it is, with its own ETag
    // (overtaken by an erasure, the subject is gone: 404).
    return openRereadingAfterKeyChange(updated, () => this.deps.reads.again(id), async (read) => ({
      view: await this.deps.renderer.render(read, decision, read === updated ? written : {}),
      etag: etagOf(read),
    }));
  }

  /** Seals the patch and writes it under the subject's row lock, if the subject is still at the version If-Match names. */
  private async writePatch(caller: Caller, id: string, patch: SubjectPatch, ifMatch: IfMatch, emailIndex: IndexValue | null | undefined, choicesHold: (subject: SubjectFacts) => void) {
    const { sealed, written } = await this.seal(patch, (field, text) => this.deps.keys.seal(id, field, text));
    const { row: updated, changed } = await this.deps.db.transaction(async (trx): Promise<{ row: SubjectRecord; changed: boolean }> => {
      const record = await this.deps.subjects.findForUpdate(id, trx);
      if (!record) throw subjectNotFound();
      assertIfMatch(ifMatch, record);
      // Decided on the row as read before the lock: an opt-out committed since refuses the write.
      choicesHold(factsOf(record));
      // No new version for a patch that changes nothing: the ETags other writers hold stay good.
      if (changesNothing(patch, record)) return { row: record, changed: false };
      const values = Object.values(sealed).filter((value): value is Sealed => value !== null);
      if (values.length && !(await this.deps.keys.sealedUnderCurrentKey(id, values, trx))) throw new SealedUnderRetiredKey({ ETag: etagOf(record) });
      const changes: SubjectChanges = { sealed };
      if (patch.external_id !== undefined) changes.externalId = patch.external_id;
      if (emailIndex !== undefined) changes.emailIndex = emailIndex;
      if (patch.preferences) changes.preferences = { ...record.preferences, ...patch.preferences };
      const row = await this.deps.subjects.update(id, changes, trx).catch(translateWriteError);
      await this.recordConsent(id, changedPreferences(record.preferences, patch.preferences), caller, trx);
      return { row, changed: true };
    });
    return { updated, written: changed ? written : {} };
  }

  /** Erasure is crypto-shredding: the subject key goes, so every ciphertext of the subject is unreadable at once. */
  async erase(caller: Caller, id: string, ifMatch?: IfMatch): Promise<void> {
    const write = new DecidedWrite(this.deps.decisions, caller);
    write.restsOn((await this.decideOnCurrent(caller, 'subjects.erase', id)).decision);
    // Keys an earlier release stored as sent (an email, perhaps) are digested with the erasure;
    // their digests are computed first, since that may load index keys on another session.
    const storedAsSent = await Promise.all(
      (await this.deps.idempotency.keysOfSubjectStoredAsSent(id)).map(async (sent) => ({ ...sent, stored: (await this.deps.index.idempotencyKey(sent.clientId, sent.key)).stored })),
    );
    // Erased by another request since it was read: this erasure did not happen, that one did.
    await write.run(() => this.deps.db.transaction(async (trx) => {
      const current = await this.deps.subjects.findForUpdate(id, trx);
      if (!current) throw subjectNotFound();
      assertIfMatch(ifMatch, current);
      await this.deps.keys.destroySubjectKey(id, trx);
      for (const { clientId, key, stored } of storedAsSent) await this.deps.idempotency.replaceStoredAsSent(clientId, key, stored, id, trx);
      await this.deps.idempotency.forgetRequestsOf(id, trx);
      // Payment methods and consent history go with the row (ON DELETE CASCADE); the blind index is a column of it.
      await this.deps.subjects.delete(id, trx);
    }));
  }

  /**
   * Looked up before the decision so that the trail names each subject a search finds (one event
   * each; tying an address to an id is an access to that subject), or records one that found none.
   * A subject whose choices keep it from the purpose (an opt-out, no sharing consent) is left out,
   * its refusal recorded: the search must not tell that purpose the address is a customer's.
   */
  async search(caller: Caller, email: string): Promise<{ subjects: Array<{ id: string } | { pseudonym: string }> }> {
    let candidates = await this.deps.index.emailCandidates(email);
    const found: Array<{ id: string; reference: 'id' | 'pseudonym' }> = [];
    let after: SearchPosition | undefined;
    // A subject left out for its own choices does not count towards the answer: the next ones
    // by creation are looked at, a page at a time, each page no larger than what is still to be
    // found (every subject decided on is audited as found or refused), up to SEARCH_SCAN_LIMIT.
    for (let examined = 0; found.length < SEARCH_LIMIT && examined < SEARCH_SCAN_LIMIT; ) {
      const size = Math.min(SEARCH_LIMIT - found.length, SEARCH_SCAN_LIMIT - examined);
      let records = await this.deps.subjects.findByEmailIndex(candidates, size, after);
      if (!after && (await this.deps.index.newerThan(candidates))) {
        // A rotation elsewhere may have moved the subjects to a key this instance has not loaded.
        await this.deps.index.refresh();
        candidates = await this.deps.index.emailCandidates(email);
        records = await this.deps.subjects.findByEmailIndex(candidates, size);
      }
      // A page after a full one that finds no more: the search is over, and was no lookup that found nothing.
      if (records.length === 0 && after) break;
      const lookups: SubjectLookup[] = records.length > 0 ? records.map(factsOf) : [{ missing: null }];
      const decisions = await this.deps.decisions.decideEach(caller.principal, 'subjects.search', lookups, ['email'], caller.context);
      // A refusal of the caller itself (scope, purpose, grant) is the same for every subject: the search is refused.
      const callerRefused = decisions.find((decision) => !decision.allowed && !refusedBySubject(decision));
      if (callerRefused) assertAllowed(callerRefused);
      records.forEach((record, i) => {
        const decision = decisions[i]!;
        if (decision.allowed) found.push({ id: record.id, reference: decision.subjectReference });
      });
      if (records.length < size) break;
      examined += records.length;
      after = records.at(-1);
    }
    // Each subject named as the purpose names it when it reads: a pseudonymous purpose never learns an id.
    return {
      subjects: await Promise.all(found.map(async ({ id, reference }) => (reference === 'id' ? { id } : { pseudonym: await this.deps.index.reference('psn', id) }))),
    };
  }

  /** The subject's choices in force (defaults where it made none), audited as a read. */
  async preferences(caller: Caller, id: string): Promise<{ view: { subject_id: string; preferences: Preferences }; etag: string }> {
    const { record } = await this.decideOnCurrent(caller, 'preferences.read', id);
    return { view: { subject_id: id, preferences: effectivePreferences(record.preferences, this.deps.preferenceDefaults) }, etag: etagOf(record) };
  }

  /** The subject's choices, with the ETag of the subject as it stands after them (a change is a new version). */
  async setPreferences(caller: Caller, id: string, preferences: PreferencesInput, ifMatch?: IfMatch): Promise<{ view: { subject_id: string; preferences: Preferences }; etag: string }> {
    const write = new DecidedWrite(this.deps.decisions, caller);
    write.restsOn((await this.decideOnCurrent(caller, 'preferences.write', id)).decision);
    return write.run(() =>
      this.deps.db.transaction(async (trx) => {
        const current = await this.deps.subjects.findForUpdate(id, trx);
        if (!current) throw subjectNotFound();
        assertIfMatch(ifMatch, current);
        const merged = { ...current.preferences, ...preferences };
        const changes = changedPreferences(current.preferences, preferences);
        const view = { subject_id: id, preferences: effectivePreferences(merged, this.deps.preferenceDefaults) };
        // Choices already stored change nothing: no new version (the caller's ETag stays good), no history.
        if (Object.keys(changes).length === 0) return { view, etag: etagOf(current) };
        const updated = await this.deps.subjects.update(id, { preferences: merged }, trx);
        await this.recordConsent(id, changes, caller, trx);
        return { view, etag: etagOf(updated) };
      }),
    );
  }

  /**
   * The answer to a creation sent again with its Idempotency-Key: the first answer again, made
   * from what this request sent (the same values, or it is refused), as version 1 with ETag "1"
   * and at the creation's levels. Nothing stored is opened: the subject as it stands now is a
   * read's to show, decided with the read's conditions (a consent withdrawn since, a scope the
   * writer lacks), and a PATCH with that ETag after a later change is 412. The subject is decided
   * on as a replay (`subjects.replay`), so its access log shows the answer; once that answer is
   * ready, the trail says the subject this request would have made was not made.
   */
  private async replay(caller: Caller, earlier: IdempotencyRecord, input: SubjectInput, write: DecidedWrite) {
    if (earlier.requestHash === null) throw subjectErased();
    if (!(await this.sameRequest(earlier.requestHash, earlier.requestHashVersion, input))) {
      throw new VaultError('idempotency_key_reused', 422, 'This Idempotency-Key was used for a different request');
    }
    try {
      const record = await this.deps.reads.again(earlier.subjectId);
      const decision = await this.decide(caller, 'subjects.replay', factsOf(record), fieldsDecidedOn(input));
      const asFirstAnswered: SubjectRecord = { ...record, externalId: input.external_id ?? null, sealed: {}, version: 1, updatedAt: record.createdAt };
      const view = await this.deps.renderer.render(asFirstAnswered, decision, textsOf(input));
      await write.notDone('idempotent_replay');
      return { view, etag: etagOf(asFirstAnswered), created: false };
    } catch (error) {
      // Erased after its key was looked up: the same answer as a retry that came after the erasure.
      if (error instanceof VaultError && error.code === 'subject_not_found') throw subjectErased();
      throw error;
    }
  }

  /** Whether `input` is the request recorded with an Idempotency-Key, under the key version it was recorded with. */
  private async sameRequest(recorded: Buffer, version: number | null, input: SubjectInput): Promise<boolean> {
    const canonical = canonicalJson(input);
    // A row from before digests were keyed holds a plain SHA-256 of the request.
    const digest = version === null ? crypto.createHash('sha256').update(canonical).digest() : (await this.deps.index.requestAt(version, canonical)).value;
    return digest.length === recorded.length && crypto.timingSafeEqual(digest, recorded);
  }

  /**
   * Decides (and audits) an owner's action on the subject as it stands, outside any transaction;
   * the subject and the decision, or 404 when it does not exist.
   */
  private async decideOnCurrent(caller: Caller, action: DataAction, id: string): Promise<{ record: SubjectRecord; decision: Allowed }> {
    const record = isSubjectId(id) ? await this.deps.subjects.find(id) : undefined;
    const decision = await this.decide(caller, action, factsOrMissing(id, record), []);
    if (!record) throw subjectNotFound();
    return { record, decision };
  }

  private async decide(caller: Caller, action: DataAction, subject: SubjectLookup, fields: readonly string[]): Promise<Allowed> {
    return assertAllowed(await this.deps.decisions.decide(caller.principal, action, subject, fields, caller.context));
  }

  /**
   * Seals every personal field the input sets with `sealOne` (under the subject's current key,
   * or a new subject's prepared one); a field set to null becomes a removal. `written` keeps the
   * texts sealed, for the answer to show without opening them again.
   */
  private async seal(
    input: Partial<Record<PersonalField, unknown>>,
    sealOne: (field: PersonalField, text: string) => Sealed | Promise<Sealed>,
  ): Promise<{ sealed: Partial<Record<SealedSubjectField, Sealed | null>>; written: WrittenFields }> {
    const sealed: Partial<Record<SealedSubjectField, Sealed | null>> = {};
    for (const field of PERSONAL_FIELDS) if (input[field] === null) sealed[field] = null;
    const written = textsOf(input);
    for (const [field, text] of Object.entries(written) as Array<[PersonalField, string]>) sealed[field] = await sealOne(field, text);
    return { sealed, written };
  }

  private recordConsent(id: string, preferences: PreferencesInput | undefined, caller: Caller, trx: Knex.Transaction): Promise<void> {
    const changes = Object.entries(preferences ?? {}).map(([preference, value]) => ({ preference, value: value as boolean }));
    return this.deps.consent.append(id, changes, caller.principal.clientId, trx);
  }
}

/** The text each personal field the input sets is sealed as (an address as its JSON). */
function textsOf(input: Partial<Record<PersonalField, unknown>>): WrittenFields {
  const texts: Partial<Record<SealedSubjectField, string>> = {};
  for (const field of PERSONAL_FIELDS) {
    const value = input[field];
    if (value !== undefined && value !== null) texts[field] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return texts;
}

const hasPreferences = (preferences: PreferencesInput | undefined): boolean => Object.keys(preferences ?? {}).length > 0;

/** The decision as far as the fields `input` sets: what its answer may show. */
function showingOnly(decision: Allowed, input: Partial<Record<PersonalField, unknown>>): Allowed {
  return { ...decision, fields: Object.fromEntries(Object.entries(decision.fields).filter(([field]) => input[field as PersonalField] !== undefined)) };
}

/**
 * The fields a write is decided on, and its audit event records: those it sets, or every
 * personal field when it sets external_id, which ties the whole record to an account. (Only the
 * record's owner writes at all: see `ownerOnly` in src/policy/actions.ts.)
 */
function fieldsDecidedOn(input: Partial<Record<PersonalField | 'external_id', unknown>>): PersonalField[] {
  return input.external_id !== undefined ? [...PERSONAL_FIELDS] : PERSONAL_FIELDS.filter((field) => input[field] !== undefined);
}

function subjectErased(): VaultError {
  return new VaultError('subject_erased', 409, 'The subject this Idempotency-Key created has been erased', {
    detail: 'it is not created again from a retry; send a new Idempotency-Key to create a new subject',
  });
}

/**
 * A patch that would leave the row as it is: choices already made, the external id it has, fields
 * removed that are not on file. A value to seal always counts as a change: telling it from the
 * stored one would mean opening that.
 */
function changesNothing(patch: SubjectPatch, record: SubjectRecord): boolean {
  return Object.entries(patch).every(([member, value]) => {
    if (value === undefined) return true;
    if (member === 'preferences') return Object.keys(changedPreferences(record.preferences, value as PreferencesInput)).length === 0;
    if (member === 'external_id') return value === record.externalId;
    return value === null && !record.sealed[member as SealedSubjectField];
  });
}

function changedPreferences(before: Record<string, boolean>, after: PreferencesInput | undefined): PreferencesInput {
  return Object.fromEntries(Object.entries(after ?? {}).filter(([name, value]) => before[name] !== value));
}

function translateWriteError(error: unknown): never {
  if (error instanceof ExternalIdTaken) {
    throw new VaultError('external_id_taken', 409, 'Another subject has this external_id', { errors: [{ pointer: '/external_id', detail: 'already in use' }] });
  }
  throw error;
}
