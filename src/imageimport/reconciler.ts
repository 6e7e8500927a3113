import { CLUSTER_ECR_REGISTRY } from '../api/group.ts';
import type { ImageImport } from '../api/image-import.ts';
import { secretValues } from '../aws/credential-set.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import type { Logger } from '../observability/logger.ts';
import { resolveCredentials } from '../registry/credentials.ts';
import type { Clock } from '../runtime/clock.ts';
import { findCondition } from '../runtime/conditions.ts';
import type { ObjectKey, ReconcileResult } from '../runtime/controller.ts';
import { formatKey } from '../runtime/keys.ts';
import type { RateLimiter } from '../runtime/rate-limiter.ts';
import type { EcrImageReaderFactory } from './ecr-images.ts';
import { type ImportCycleResult, runImportCycle } from './import-cycle.ts';
import type { ImportLedger } from './import-ledger.ts';
import { type CycleOutcome, nextImportStatus, specTags } from './import-status.ts';
import { pullCredentials } from './pull-credentials.ts';
import { ImportConditionType, ImportReason } from './reasons.ts';
import { clusterRegistryAccess, type RegistryAccess, type RegistryAccessResult, registryAccess } from './registry-access.ts';
import type { RegistryV2ReaderFactory } from './registry-v2-client.ts';
import { importDue, importIntervalMs, importRecordFromStatus, withJitter } from './schedule.ts';
import { statusPatch } from '../runtime/status-patch.ts';
import type { ImageImportReads, ImageImportWrites } from './store.ts';

export interface ImportEventSink {
  event(regarding: ImageImport, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}

export interface ImageImportReconcilerDeps {
  reads: ImageImportReads;
  writes: ImageImportWrites;
  events: ImportEventSink;
  clock: Clock;
  logger: Logger;
  endpointAllowlist: EndpointAllowlist;
  openEcr: EcrImageReaderFactory;
  openRegistry: RegistryV2ReaderFactory;
  ledger: ImportLedger;
  /** Backoff for failures that retrying fixes (throttling, ECR or the registry unreachable). */
  retryBackoff: RateLimiter;
  /** The wait before re-checking a failure a person or an ECR change must fix, when shorter than the interval. Default 5 min. */
  failureRetryMs?: number;
  random?: () => number;
}

const ACTION = 'Import';

/**
 * Imports one ImageImport's tags when an import is due, then writes status once. Due means: the spec
 * changed, the registry became usable after the import waited for it, or the schedule says so. While
 * the EcrRegistry is missing or not Ready there is no timer: its next change enqueues this import.
 */
export async function reconcileImageImport(deps: ImageImportReconcilerDeps, key: ObjectKey, signal?: AbortSignal): Promise<ReconcileResult> {
  const ledgerKey = formatKey(key.namespace, key.name);
  const imageImport = deps.reads.imageImport(key.namespace, key.name);
  if (!imageImport) {
    deps.ledger.forget(ledgerKey);
    deps.retryBackoff.forget(ledgerKey);
    return undefined;
  }
  const log = deps.logger.child({ kind: 'ImageImport', namespace: key.namespace, name: key.name });
  const now = deps.clock.now();
  const uid = imageImport.metadata.uid;
  const generation = imageImport.metadata.generation ?? 0;
  const suspended = imageImport.spec.importPolicy?.suspend === true;
  const access = accessFor(deps, imageImport);

  if (!access.ok) {
    const pullSecretName = access.pullSecretName;
    const waiting: CycleOutcome = { kind: 'waiting', reason: access.reason, message: access.message, ...(access.stalled ? { stalled: true } : {}) };
    await publish(deps, imageImport, waiting, { now, ...(pullSecretName ? { pullSecretName } : {}) }, log);
    deps.ledger.set(ledgerKey, uid, { generation, waitingForRegistry: true });
    return undefined;
  }

  const record = deps.ledger.get(ledgerKey, uid) ?? importRecordFromStatus(imageImport.status);
  const due = importDue(record, generation, suspended, now);
  if (!due) {
    const nextImportMs = suspended ? undefined : record.nextImportMs;
    await publish(deps, imageImport, { kind: 'unchanged' }, { now, pullSecretName: access.access.pullSecretName, nextImportMs }, log);
    return nextImportMs === undefined ? undefined : { requeueAfterMs: Math.max(1, nextImportMs - now) };
  }

  const cycle = await importOnce(deps, imageImport, access.access, signal);
  const nextImportMs = suspended ? undefined : now + delayAfter(deps, ledgerKey, imageImport, cycle);
  const outcome: CycleOutcome = cycle.kind === 'resolved' ? { kind: 'resolved', tags: cycle.tags } : cycle;
  await publish(deps, imageImport, outcome, { now, host: access.access.host, pullSecretName: access.access.pullSecretName, nextImportMs }, log);
  deps.ledger.set(ledgerKey, uid, { generation, waitingForRegistry: false, ...(nextImportMs !== undefined ? { nextImportMs } : {}) });
  log.info('imported', { due, outcome: cycle.kind, ...(cycle.kind === 'failed' ? { reason: cycle.reason } : {}), nextImportInMs: nextImportMs === undefined ? undefined : nextImportMs - now });
  return nextImportMs === undefined ? undefined : { requeueAfterMs: Math.max(1, nextImportMs - now) };
}

/** The registry the import names, of either kind, and whether it can serve the import now. */
function accessFor(deps: ImageImportReconcilerDeps, imageImport: ImageImport): RegistryAccessResult & { pullSecretName?: string } {
  const { kind, name } = imageImport.spec.registryRef;
  const namespace = imageImport.metadata.namespace!;
  if (kind === CLUSTER_ECR_REGISTRY.kind) {
    const registry = deps.reads.clusterRegistry(name);
    return clusterRegistryAccess(registry, name, namespace, registry !== undefined && deps.reads.selects(registry, namespace), deps.endpointAllowlist);
  }
  const registry = deps.reads.registry(namespace, name);
  const access = registryAccess(registry, name, deps.endpointAllowlist);
  const pullSecretName = registry?.status?.pullSecretName;
  return access.ok || !pullSecretName ? access : { ...access, pullSecretName };
}

/** One import cycle with the registry's own credentials and pull secret. */
async function importOnce(deps: ImageImportReconcilerDeps, imageImport: ImageImport, access: RegistryAccess, signal?: AbortSignal): Promise<ImportCycleResult> {
  const namespace = imageImport.metadata.namespace!;
  // The same Secret and the same validation as the registry controller, so both see one truth.
  const { spec, namespace: ownNamespace } = access.credentials;
  const credentials = await resolveCredentials(spec, ownNamespace, deps.reads, { region: access.region, ...(access.apiEndpoint ? { endpoint: access.apiEndpoint } : {}) });
  if (!credentials.ok) return { kind: 'failed', reason: credentials.reason, message: credentials.message, retryable: false };
  const login = pullCredentials(await deps.reads.secret(namespace, access.pullSecretName), access.pullSecretName, access.owner, access.host);
  const ecr = deps.openEcr(credentials.set, access.accountId);
  try {
    return await runImportCycle({
      repository: imageImport.spec.repository,
      tags: specTags(imageImport.spec),
      ecr,
      registry: login.ok ? deps.openRegistry(access.registryBaseUrl, login.credentials) : { unavailable: login.message },
      secrets: [...secretValues(credentials.set), ...(login.ok ? [login.credentials.password] : [])],
      ...(signal ? { signal } : {}),
    });
  } finally {
    ecr.close();
  }
}

/** How long until the next import: the interval after a clean import, sooner after a failure. */
function delayAfter(deps: ImageImportReconcilerDeps, key: string, imageImport: ImageImport, cycle: ImportCycleResult): number {
  const intervalMs = importIntervalMs(imageImport.spec.importPolicy);
  const clean = cycle.kind === 'resolved' && [...cycle.tags.values()].every((t) => t.found && t.pull.ok);
  if (!clean && cycle.retryable) return deps.retryBackoff.when(key);
  deps.retryBackoff.forget(key);
  if (clean) return withJitter(intervalMs, deps.random);
  return withJitter(Math.min(intervalMs, deps.failureRetryMs ?? 300_000), deps.random);
}

interface PublishContext {
  now: number;
  host?: string;
  pullSecretName?: string;
  nextImportMs?: number | undefined;
}

/**
 * Writes the status if it changed, then records Events: moved tags, and Ready turning False or back to True.
 * lastImportTime and nextImportTime move on every import cycle, so a cycle costs one status write (at
 * most one per interval, like Flux's lastScanResult); a reconcile that does not import writes nothing.
 */
async function publish(deps: ImageImportReconcilerDeps, imageImport: ImageImport, outcome: CycleOutcome, ctx: PublishContext, log: Logger): Promise<void> {
  const previous = imageImport.status;
  const { status, moves, cuts, bytes, fullBytes } = nextImportStatus(
    previous,
    {
      now: new Date(ctx.now),
      generation: imageImport.metadata.generation,
      spec: imageImport.spec,
      ...(ctx.host ? { host: ctx.host } : {}),
      ...(ctx.pullSecretName ? { pullSecretName: ctx.pullSecretName } : {}),
      ...(ctx.nextImportMs !== undefined ? { nextImportTime: new Date(ctx.nextImportMs) } : {}),
    },
    outcome,
  );
  const patch = statusPatch(previous, status);
  if (patch) await deps.writes.patchStatus(imageImport, patch);
  if (patch && cuts.length > 0) {
    const tagsPerField: Record<string, number> = {};
    for (const cut of cuts) tagsPerField[cut.field] = (tagsPerField[cut.field] ?? 0) + 1;
    log.info('status cut to its size budget; see status.tags[].truncatedFields', { bytes, fullBytes, tagsPerField });
  }

  for (const move of moves) {
    const note = `Tag ${move.tag} moved from ${move.from} to ${move.to}`;
    deps.events.event(imageImport, 'Normal', ImportReason.TagUpdated, ACTION, note);
    log.info('tag moved', { tag: move.tag, from: move.from, to: move.to });
  }
  const before = findCondition(previous?.conditions, ImportConditionType.Ready);
  const after = findCondition(status.conditions, ImportConditionType.Ready);
  if (!after) return;
  if (after.status === 'True' && before?.status !== 'True') {
    deps.events.event(imageImport, 'Normal', after.reason, ACTION, after.message);
  } else if (after.status === 'False' && (before?.status !== 'False' || before.reason !== after.reason || before.message !== after.message)) {
    // Waiting on a registry that is still getting its token is expected, not a fault of this import.
    const waiting = after.reason === ImportReason.RegistryNotReady || after.reason === ImportReason.RegistryDeleting;
    deps.events.event(imageImport, waiting ? 'Normal' : 'Warning', after.reason, ACTION, after.message);
    log.warn('import not ready', { reason: after.reason, message: after.message });
  }
}
