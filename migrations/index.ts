import type { Knex } from 'knex';
import * as m20261130_001_vault_meta from './20261130_001_vault_meta';
import * as m20261130_002_key_hierarchy from './20261130_002_key_hierarchy';
import * as m20261130_010_clients from './20261130_010_clients';
import * as m20261130_011_signing_keys from './20261130_011_signing_keys';
import * as m20261130_012_revoked_tokens from './20261130_012_revoked_tokens';
import * as m20261130_013_auth_failures from './20261130_013_auth_failures';
import * as m20261130_020_policy_versions from './20261130_020_policy_versions';
import * as m20261130_021_audit_trail from './20261130_021_audit_trail';
import * as m20261130_022_approvals from './20261130_022_approvals';
import * as m20261130_030_subjects from './20261130_030_subjects';
import * as m20261130_040_rotation_jobs from './20261130_040_rotation_jobs';
import * as m20261130_050_client_standing_notifications from './20261130_050_client_standing_notifications';
import * as m20261201_060_subject_key_notifications from './20261201_060_subject_key_notifications';
import * as m20261201_070_erased_idempotency_keys from './20261201_070_erased_idempotency_keys';
import * as m20261201_080_keyed_idempotency_requests from './20261201_080_keyed_idempotency_requests';
import * as m20261201_090_secret_issue_index from './20261201_090_secret_issue_index';
import * as m20261201_100_digested_idempotency_keys from './20261201_100_digested_idempotency_keys';

/**
 * Migrations are listed here rather than discovered on disk, so the same list runs from the
 * TypeScript sources (tests) and from the compiled build (production) without path tricks.
 * Append only; never edit an applied migration.
 */
const MIGRATIONS: ReadonlyArray<[string, Knex.Migration]> = [
  ['20261130_001_vault_meta', m20261130_001_vault_meta],
  ['20261130_002_key_hierarchy', m20261130_002_key_hierarchy],
  ['20261130_010_clients', m20261130_010_clients],
  ['20261130_011_signing_keys', m20261130_011_signing_keys],
  ['20261130_012_revoked_tokens', m20261130_012_revoked_tokens],
  ['20261130_013_auth_failures', m20261130_013_auth_failures],
  ['20261130_020_policy_versions', m20261130_020_policy_versions],
  ['20261130_021_audit_trail', m20261130_021_audit_trail],
  ['20261130_022_approvals', m20261130_022_approvals],
  ['20261130_030_subjects', m20261130_030_subjects],
  ['20261130_040_rotation_jobs', m20261130_040_rotation_jobs],
  ['20261130_050_client_standing_notifications', m20261130_050_client_standing_notifications],
  ['20261201_060_subject_key_notifications', m20261201_060_subject_key_notifications],
  ['20261201_070_erased_idempotency_keys', m20261201_070_erased_idempotency_keys],
  ['20261201_080_keyed_idempotency_requests', m20261201_080_keyed_idempotency_requests],
  ['20261201_090_secret_issue_index', m20261201_090_secret_issue_index],
  ['20261201_100_digested_idempotency_keys', m20261201_100_digested_idempotency_keys],
];

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => MIGRATIONS.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = MIGRATIONS.find(([candidate]) => candidate === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  },
};
