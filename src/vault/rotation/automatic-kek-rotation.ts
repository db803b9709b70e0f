import type { KeyInventoryStore } from '../../store/key-inventory';
import type { RotationJobs } from './rotation-jobs';
import { VaultError } from '../../errors/vault-error';

export interface AutomaticKekRotationSettings {
  kekRotateAfterDays: number;
  kekRotateAfterWraps: number;
}

const DAY_MS = 86_400_000;
// The schedule is checked at most this often per instance; a rotation is not urgent to the second.
const CHECK_INTERVAL_MS = 60_000;

/** Starts a `kek` rotation by itself once the active generation is old enough or has wrapped enough keys. */
export class AutomaticKekRotation {
  private lastCheck = 0;

  constructor(
    private readonly jobs: RotationJobs,
    private readonly inventory: KeyInventoryStore,
    private readonly settings: AutomaticKekRotationSettings,
    private readonly now: () => number = Date.now,
  ) {}

  async check(): Promise<void> {
    if (this.now() - this.lastCheck < CHECK_INTERVAL_MS) return;
    this.lastCheck = this.now();
    const active = (await this.inventory.generations()).find((g) => g.state === 'active');
    if (!active || !this.due(active)) return;
    try {
      await this.jobs.start({ kind: 'kek' }, { clientId: 'pdvault:schedule' });
    } catch (error) {
      // Another instance (or an admin) started it first: that job does the work.
      if (!(error instanceof VaultError && error.code === 'rotation_already_running')) throw error;
    }
  }

  private due(active: { createdAt: Date; wrapCount: number }): boolean {
    const { kekRotateAfterDays, kekRotateAfterWraps } = this.settings;
    if (kekRotateAfterDays > 0 && this.now() - active.createdAt.getTime() >= kekRotateAfterDays * DAY_MS) return true;
    return kekRotateAfterWraps > 0 && active.wrapCount >= kekRotateAfterWraps;
  }
}
