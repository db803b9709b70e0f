import { ChangeListener } from '../store/change-listener';
import type { Database } from '../store/database';
import type { KeyHierarchy } from './key-hierarchy';

/** Migration 060's trigger announces every deleted subject key here, with the subject id. */
export const SUBJECT_KEYS_CHANNEL = 'pdvault_subject_keys';

/**
 * Follows deletions of subject keys on every instance: an erasure or a re-key anywhere takes
 * the subject's unwrapped keys out of this instance's memory. Whenever the feed goes down or
 * (re)connects, deletions may have gone unannounced, so every cached subject key is dropped; while
 * it is down none is kept past its use. Writes do not depend on the feed: they check the key
 * version under the row lock.
 */
export function followSubjectKeyDeletions(db: Database, keys: KeyHierarchy, onError: (error: unknown) => void): ChangeListener {
  return new ChangeListener(
    db,
    SUBJECT_KEYS_CHANNEL,
    {
      changed: (subjectId) => keys.forgetSubjectKeys(subjectId),
      listening: (up) => keys.hearsSubjectKeyDeletions(up),
    },
    { onError },
  );
}
