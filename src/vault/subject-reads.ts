import type { KeyHierarchy } from '../crypto/key-hierarchy';
import type { SealedSubjectField, SubjectFields, SubjectRecord, SubjectStore } from '../store/subjects';
import { subjectNotFound } from './ids';

/**
 * Subjects as a read needs them: the rows, with each subject's keys ready to open its values.
 * Keys this instance holds in memory are not fetched again; the others come in the same query
 * as the rows, so a read costs one round trip whether its subject is warm or cold.
 */
export class SubjectReads {
  constructor(
    private readonly keys: KeyHierarchy,
    private readonly subjects: SubjectStore,
  ) {}

  async find(id: string): Promise<SubjectRecord | undefined> {
    return (await this.findMany([id])).get(id);
  }

  /** The subject's version as it stands now; 404 if it was erased meanwhile. */
  async versionNow(id: string): Promise<number> {
    const version = await this.subjects.versionOf(id);
    if (version === undefined) throw subjectNotFound();
    return version;
  }

  /** The subject read again (see `openRereadingAfterKeyChange`); 404 if it was erased meanwhile. */
  async again(id: string): Promise<SubjectRecord> {
    const record = await this.find(id);
    if (!record) throw subjectNotFound();
    return record;
  }

  /** Only `fields` of the subject read again; 404 if it was erased meanwhile. */
  async fieldsAgain(id: string, fields: readonly SealedSubjectField[]): Promise<SubjectFields> {
    const record = (await this.findFields([id], fields)).get(id);
    if (!record) throw subjectNotFound();
    return record;
  }

  findMany(ids: readonly string[]): Promise<Map<string, SubjectRecord>> {
    return this.keys.readWithSubjectKeys(ids, async (keysFor) => {
      const { records, keyRows } = await this.subjects.findManyWithKeys(ids, keysFor);
      return { value: records, keyRows };
    });
  }

  /** Only the sealed `fields` a disclosure will open, with the id and choices it decides on. */
  findFields(ids: readonly string[], fields: readonly SealedSubjectField[]): Promise<Map<string, SubjectFields>> {
    return this.keys.readWithSubjectKeys(ids, async (keysFor) => {
      const { records, keyRows } = await this.subjects.findFieldsWithKeys(ids, keysFor, fields);
      return { value: records, keyRows };
    });
  }
}
