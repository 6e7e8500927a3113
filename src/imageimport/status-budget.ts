import { type ImageImportStatus, TRUNCATED_FIELDS, type TagStatus, type TruncatedField } from '../api/image-import.ts';

/**
 * The most an ImageImport's status may take, as JSON. etcd refuses an object over 1.5 MiB (and the
 * apiserver a request over 3 MiB), and the status shares that with the spec, the metadata and
 * managedFields, which repeat every key of the status (each tag, each label name). Every status write
 * also goes to every watcher and sits in every informer cache. 256 KiB is more than 25 times what 20
 * tags of an ordinary image take (under 10 KiB), so only outsized labels or commands are ever cut, and
 * the whole object stays well under 1 MiB even when the label names are repeated in managedFields.
 */
export const STATUS_BUDGET_BYTES = 256 * 1024;

export interface TagCut {
  tag: string;
  field: TruncatedField;
}

export interface BoundedStatus {
  status: ImageImportStatus;
  /** The size of `status` as JSON, in bytes. */
  bytes: number;
  /** The size of the status before any cut. */
  fullBytes: number;
  /** What this bound left out, in the order it was cut; empty when the status fitted. */
  cuts: TagCut[];
}

/**
 * The status cut down to `budgetBytes` when it is larger. Cuts go in the order of TRUNCATED_FIELDS
 * (labels, then the rest of the config, then history, then platforms). Within each, the tag whose cut
 * saves most goes first, so one tag with huge labels loses them before any other tag loses anything;
 * on a tie, tags listed later go before those listed earlier, and the default tag last. Each cut is
 * recorded in the tag's `truncatedFields`. The result depends only on the input, so the same images
 * give the same status on every cycle and no write is made for nothing.
 */
export function boundStatus(status: ImageImportStatus, budgetBytes: number = STATUS_BUDGET_BYTES): BoundedStatus {
  const tags = [...(status.tags ?? [])];
  const tagBytes = tags.map(jsonBytes);
  // An array's JSON is its items' JSON joined by commas, so the total is exact without re-serializing.
  let total = tags.length === 0 ? jsonBytes(status) : jsonBytes({ ...status, tags: [] }) + tagBytes.reduce((sum, n) => sum + n, 0) + tags.length - 1;
  const fullBytes = total;
  const cuts: TagCut[] = [];
  for (const field of TRUNCATED_FIELDS) {
    if (total <= budgetBytes) break;
    const candidates = tags
      .flatMap((tag, position) => {
        const cut = withoutField(tag, field);
        const saves = cut ? tagBytes[position]! - jsonBytes(cut) : 0;
        // A cut smaller than the note that records it would only add bytes.
        return cut && saves > 0 ? [{ position, cut, saves, isDefault: tag.tag === status.defaultTag }] : [];
      })
      .sort((a, b) => b.saves - a.saves || Number(a.isDefault) - Number(b.isDefault) || b.position - a.position);
    for (const candidate of candidates) {
      if (total <= budgetBytes) break;
      tags[candidate.position] = candidate.cut;
      tagBytes[candidate.position] = tagBytes[candidate.position]! - candidate.saves;
      total -= candidate.saves;
      cuts.push({ tag: candidate.cut.tag, field });
    }
  }
  return { status: cuts.length === 0 ? status : { ...status, tags }, bytes: total, fullBytes, cuts };
}

/** The tag without `field`, marked as cut; undefined when it has no such field to cut. */
function withoutField(tag: TagStatus, field: TruncatedField): TagStatus | undefined {
  const { config, history, platforms, ...rest } = tag;
  switch (field) {
    case 'config.labels': {
      if (!config?.labels) return undefined;
      const { labels: _labels, ...others } = config;
      return mark({ ...rest, ...(Object.keys(others).length > 0 ? { config: others } : {}), ...(history ? { history } : {}), ...(platforms ? { platforms } : {}) }, field);
    }
    case 'config':
      return config ? mark({ ...rest, ...(history ? { history } : {}), ...(platforms ? { platforms } : {}) }, field) : undefined;
    case 'history':
      return history && history.length > 0 ? mark({ ...rest, ...(config ? { config } : {}), ...(platforms ? { platforms } : {}) }, field) : undefined;
    case 'platforms':
      return platforms && platforms.length > 0 ? mark({ ...rest, ...(config ? { config } : {}), ...(history ? { history } : {}) }, field) : undefined;
  }
}

/** Adds `field` to the tag's truncatedFields, kept in cut order; `config` stands for its labels too. */
function mark(tag: TagStatus, field: TruncatedField): TagStatus {
  const fields = new Set<TruncatedField>([...(tag.truncatedFields ?? []), field]);
  if (fields.has('config')) fields.delete('config.labels');
  return { ...tag, truncatedFields: TRUNCATED_FIELDS.filter((f) => fields.has(f)) };
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
