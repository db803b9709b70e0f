import { VaultError } from '../errors/vault-error';
import { PolicyVersionTaken, type PolicyVersionStore, type StoredPolicyVersion } from '../store/policy-versions';
import type { AccessContext, PolicyAuditHook } from './audit-hook';
import { parsePolicyDocument, parseStoredPolicyDocument, type PolicyDocument } from './policy-document';

/** One version of the policy, validated. */
export interface PolicyVersion {
  version: number;
  document: PolicyDocument;
  createdBy: string;
  createdAt: Date;
}

export interface PolicyVersionSummary {
  version: number;
  createdBy: string;
  createdAt: Date;
}

/** Who replaces the policy: the admin client and its token's scopes, for the audit event. */
export interface PolicyActor {
  clientId: string;
  scopes: string[];
}

/**
 * The versioned purpose catalogue. Each instance keeps the version it decided with for at most
 * `cacheMs`, then asks PostgreSQL for the current version number and reloads only when it
 * changed: a replacement reaches every instance within `cacheMs`, without a restart.
 */
export class PolicyCatalogue {
  private cached?: { policy: PolicyVersion; checkedAt: number };
  private refreshing?: Promise<PolicyVersion>;

  constructor(
    private readonly store: PolicyVersionStore,
    private readonly settings: { cacheMs: number },
    private readonly audit: PolicyAuditHook,
    private readonly now: () => number = Date.now,
  ) {}

  async current(): Promise<PolicyVersion> {
    const cached = this.cached;
    if (cached && this.now() - cached.checkedAt < this.settings.cacheMs) return cached.policy;
    // Concurrent requests share one round trip.
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  async version(version: number): Promise<PolicyVersion> {
    const stored = Number.isSafeInteger(version) && version >= 1 ? await this.store.find(version) : undefined;
    if (!stored) throw new VaultError('policy_version_not_found', 404, 'No such policy version');
    return toPolicyVersion(stored);
  }

  async versions(): Promise<PolicyVersionSummary[]> {
    return this.store.list();
  }

  /**
   * Validates `document` and stores it as the next version (the old versions stay), if the
   * current one is among `expectedVersions` (the caller's If-Match): a replacement based on no
   * version would silently undo another administrator's.
   */
  async replace(document: unknown, actor: PolicyActor, context: AccessContext, expectedVersions: readonly number[] | undefined): Promise<PolicyVersion> {
    const event = { action: 'policy.replace', clientId: actor.clientId, scopes: actor.scopes, requestId: context.requestId, sourceAddress: context.sourceAddress };
    if (expectedVersions === undefined) {
      await this.audit.record([{ ...event, outcome: 'denied', reason: 'precondition_required' }]);
      throw new VaultError('precondition_required', 428, 'Replacing the policy needs If-Match with the ETag of the version it is based on', {
        detail: 'read it with GET /v1/admin/policy and send its ETag, e.g. If-Match: "3"',
      });
    }
    let parsed: PolicyDocument;
    try {
      parsed = parsePolicyDocument(document);
    } catch (error) {
      if (error instanceof VaultError) await this.audit.record([{ ...event, outcome: 'denied', reason: error.code }]);
      throw error;
    }
    const current = await this.store.currentVersion();
    if (!expectedVersions.includes(current)) {
      await this.audit.record([{ ...event, outcome: 'denied', reason: 'policy_version_mismatch', policyVersion: current }]);
      throw new VaultError('policy_version_mismatch', 412, 'The policy has changed since the version named in If-Match', {
        detail: `The current version is ${current}`,
      });
    }
    let stored: StoredPolicyVersion;
    try {
      stored = await this.store.insert(current + 1, parsed, actor.clientId);
    } catch (error) {
      if (!(error instanceof PolicyVersionTaken)) throw error;
      await this.audit.record([{ ...event, outcome: 'denied', reason: 'policy_conflict' }]);
      throw new VaultError('policy_conflict', 409, 'Another replacement of the policy was stored at the same time; read it and try again');
    }
    // The version row exists from here on; if this write fails the request fails, and the
    // change is still visible in policy_versions with its author.
    await this.audit.record([{ ...event, outcome: 'allowed', policyVersion: stored.version, target: `policy_version:${stored.version}` }]);
    this.cached = undefined;
    return toPolicyVersion(stored);
  }

  private async refresh(): Promise<PolicyVersion> {
    const checkedAt = this.now();
    const version = await this.store.currentVersion();
    if (this.cached?.policy.version === version) {
      this.cached.checkedAt = checkedAt;
      return this.cached.policy;
    }
    const stored = await this.store.find(version);
    if (!stored) throw new VaultError('policy_unavailable', 503, 'No policy is stored');
    const policy = toPolicyVersion(stored);
    this.cached = { policy, checkedAt };
    return policy;
  }
}

function toPolicyVersion(stored: StoredPolicyVersion): PolicyVersion {
  let document: PolicyDocument;
  try {
    document = parseStoredPolicyDocument(stored.document);
  } catch (error) {
    // A stored version that no longer validates was changed behind the vault's back: decide nothing with it.
    throw new VaultError('policy_unavailable', 503, 'The stored policy is not valid', { cause: error });
  }
  return { version: stored.version, document, createdBy: stored.createdBy, createdAt: stored.createdAt };
}
