import { DEFAULT_IMPORT_INTERVAL, type ImageImportStatus, type ImportPolicy } from '../api/image-import.ts';
import { parseDuration } from '../runtime/duration.ts';
import { ImportConditionType, REGISTRY_WAIT_REASONS } from './reasons.ts';
import { parseKubeTime } from '../runtime/kube-time.ts';

const MIN_INTERVAL_MS = 10_000;
const MAX_INTERVAL_MS = 168 * 3_600_000;
export const JITTER_FRACTION = 0.05;

/** spec.importPolicy.interval in ms. The schema enforces the bounds; clamping keeps an older object from polling ECR in a loop. */
export function importIntervalMs(policy: ImportPolicy | undefined): number {
  const parsed = parseDuration(policy?.interval ?? DEFAULT_IMPORT_INTERVAL) ?? 3_600_000;
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, parsed));
}

/** `delayMs` give or take up to `fraction` of it, so imports created together spread out instead of calling ECR in step. */
export function withJitter(delayMs: number, random: () => number = Math.random, fraction = JITTER_FRACTION): number {
  return Math.round(delayMs * (1 + (random() * 2 - 1) * fraction));
}

/** What the last reconcile decided about an ImageImport, which says when the next import is due. */
export interface ImportRecord {
  /** The generation last imported (or found waiting for its registry); undefined before the first import. */
  generation?: number;
  nextImportMs?: number;
  /** The import waits for the EcrRegistry to become usable; the registry's change retries it. */
  waitingForRegistry: boolean;
}

/**
 * The record a status carries, for the first reconcile after the operator starts. A new object's
 * status is the CRD's default, `{observedGeneration: -1}`: never imported.
 */
export function importRecordFromStatus(status: ImageImportStatus | undefined): ImportRecord {
  const ready = status?.conditions?.find((c) => c.type === ImportConditionType.Ready);
  const nextImportMs = parseKubeTime(status?.nextImportTime);
  const generation = status?.observedGeneration;
  return {
    ...(generation !== undefined && generation >= 0 ? { generation } : {}),
    ...(nextImportMs !== undefined ? { nextImportMs } : {}),
    waitingForRegistry: ready?.status === 'False' && REGISTRY_WAIT_REASONS.has(ready.reason),
  };
}

export type DueReason = 'first-import' | 'spec-changed' | 'registry-ready' | 'scheduled';

/**
 * Whether to import now, given that the registry is usable. A spec change, or a registry that has
 * become usable again, imports at once even while suspended; otherwise the schedule decides.
 */
export function importDue(record: ImportRecord, generation: number, suspended: boolean, nowMs: number): DueReason | undefined {
  if (record.generation === undefined) return 'first-import';
  // Greater, not different: a cache that lags our own write shows an older generation, which is no change.
  if (generation > record.generation) return 'spec-changed';
  if (record.waitingForRegistry) return 'registry-ready';
  if (suspended) return undefined;
  if (record.nextImportMs === undefined || record.nextImportMs <= nowMs) return 'scheduled';
  return undefined;
}
