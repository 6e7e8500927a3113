import type { ImportRecord } from './schedule.ts';

/**
 * The last import decision per ImageImport in this process. The informer cache can lag our own
 * status write by a moment; a reconcile in that moment would read the old nextImportTime and import
 * twice. This record, written after each status write, is what the schedule reads first.
 */
export class ImportLedger {
  readonly #records = new Map<string, { uid: string; record: ImportRecord }>();

  /** The record for this object (a recreated object with the same name has a new uid and starts afresh). */
  get(key: string, uid: string | undefined): ImportRecord | undefined {
    const entry = this.#records.get(key);
    return entry && entry.uid === uid ? entry.record : undefined;
  }

  set(key: string, uid: string | undefined, record: ImportRecord): void {
    this.#records.set(key, { uid: uid ?? '', record });
  }

  forget(key: string): void {
    this.#records.delete(key);
  }

  get size(): number {
    return this.#records.size;
  }
}
