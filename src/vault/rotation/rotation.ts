import type { AuditSink } from '../../audit/writer';
import type { RotationSettings } from '../../config/config';
import type { BlindIndex } from '../../crypto/blind-index';
import type { KeyHierarchy } from '../../crypto/key-hierarchy';
import type { SigningKeyRing } from '../../identity/signing-keys';
import type { Logger } from '../../observability/logger';
import { BlindIndexRotationStore } from '../../store/blind-index-rotation';
import { CredentialLineage } from '../../store/credential-lineage';
import type { Database } from '../../store/database';
import { KekDestructionStore } from '../../store/kek-destructions';
import { KeyInventoryStore } from '../../store/key-inventory';
import { KeyRotationStore } from '../../store/key-rotation';
import { RotationJobStore } from '../../store/rotation-jobs';
import { SubjectRekeyStore } from '../../store/subject-rekey';
import { AutomaticKekRotation } from './automatic-kek-rotation';
import { BlindIndexRotation } from './blind-index-rotation';
import { KekDestruction } from './kek-destruction';
import { KekRotation, type CheckpointKeys } from './kek-rotation';
import { KeyInventoryService } from './key-inventory';
import { KmsKeyRotation } from './kms-key-rotation';
import { RotationJobs, type RotationActor, type RotationJobView } from './rotation-jobs';
import type { RotationRequest } from './rotation-kind';
import { RotationRunner } from './rotation-runner';
import { SigningRotation } from './signing-rotation';
import { SubjectRotation } from './subject-rotation';

/** What the admin routes and the CLI call: inventory, starting and following rotations, destroying a retired KEK generation. */
export interface KeyRotation {
  inventory: KeyInventoryService;
  jobs: RotationJobs;
  destruction: KekDestruction;
  runner: RotationRunner;
  /** Starts a job and lets this instance's runner pick it up at once. */
  start(request: RotationRequest, actor: RotationActor): Promise<RotationJobView>;
}

export interface KeyRotationDependencies {
  db: Database;
  keys: KeyHierarchy;
  index: BlindIndex;
  signingKeys: SigningKeyRing;
  audit: AuditSink;
  logger: Logger;
  settings: RotationSettings;
  /** How long after retirement a signing key's tokens may still be alive (the ring's own rule). */
  signingLingerMs: number;
  /** The audit checkpoint signer, whose key a KEK rotation moves to the new generation. */
  checkpointKeys: CheckpointKeys;
}

export function createKeyRotation(deps: KeyRotationDependencies): KeyRotation {
  const { db, keys, settings } = deps;
  const jobStore = new RotationJobStore(db);
  const keyStore = new KeyRotationStore(db);
  const inventoryStore = new KeyInventoryStore(db);
  const inventory = new KeyInventoryService(keys, inventoryStore, keyStore, deps.signingLingerMs);
  const jobs = new RotationJobs(
    db,
    jobStore,
    {
      kek: new KekRotation(keys, keyStore, jobStore, deps.checkpointKeys),
      kms_key: new KmsKeyRotation(keys, keyStore, jobStore),
      signing: new SigningRotation(deps.signingKeys, jobStore),
      blind_index: new BlindIndexRotation(keys, deps.index, new BlindIndexRotationStore(db), keyStore, jobStore, settings.blindIndexRetireGraceMs),
      subject: new SubjectRotation(keys, new SubjectRekeyStore(db), jobStore),
    },
    deps.audit,
    deps.logger,
  );
  const automatic = new AutomaticKekRotation(jobs, inventoryStore, settings);
  const runner = new RotationRunner(db, jobs, jobStore, keyStore, keys, settings, deps.logger, () => automatic.check());
  return {
    inventory,
    jobs,
    destruction: new KekDestruction(db, keys, new KekDestructionStore(db), keyStore, inventory, deps.audit, new CredentialLineage(db)),
    runner,
    async start(request, actor) {
      const job = await jobs.start(request, actor);
      runner.nudge();
      return job;
    },
  };
}
