import { DEFAULT_TAGS, type ImageImportSpec, type ImageImportStatus, SHORT_DIGEST_LENGTH, type TagStatus } from '../api/image-import.ts';
import type { Condition } from '../api/meta.ts';
import { type ConditionUpdate, findCondition, type Progress, removeCondition, setCondition, setProgress } from '../runtime/conditions.ts';
import { toKubeTime } from '../runtime/kube-time.ts';
import { ImportConditionType, ImportReason, progressOfReason } from './reasons.ts';
import { boundStatus, type TagCut } from './status-budget.ts';
import { nextTagStatus, type TagMove, type TagResolution } from './tag-status.ts';

/** What a reconcile did about the image, which decides how the status changes. */
export type CycleOutcome =
  /** ECR answered: each tag resolved or not. */
  | { kind: 'resolved'; tags: ReadonlyMap<string, TagResolution> }
  /** The cycle failed as a whole (repository missing, access denied, …); every tag keeps its last good result. */
  | { kind: 'failed'; reason: string; message: string }
  /**
   * No import was tried: the EcrRegistry is missing or not Ready. `stalled` says a person must act on
   * the registry even though the reason alone would read as waiting (the registry is itself Stalled).
   */
  | { kind: 'waiting'; reason: string; message: string; stalled?: boolean }
  /** No import was due. */
  | { kind: 'unchanged' };

export interface StatusContext {
  now: Date;
  generation: number | undefined;
  spec: ImageImportSpec;
  /** The registry host that pinned references name; needed when tags resolved. */
  host?: string;
  pullSecretName?: string;
  nextImportTime?: Date;
}

export function specTags(spec: ImageImportSpec): readonly string[] {
  return spec.tags && spec.tags.length > 0 ? spec.tags : DEFAULT_TAGS;
}

export function defaultTagOf(spec: ImageImportSpec): string {
  return spec.defaultTag ?? specTags(spec)[0]!;
}

/**
 * The next status from the previous one and this reconcile's outcome, with the tags that moved.
 * Tags follow spec.tags in order; tags no longer listed are dropped. The status is cut down to its
 * size budget (see boundStatus); `cuts` says what was left out.
 */
export function nextImportStatus(
  previous: ImageImportStatus | undefined,
  ctx: StatusContext,
  outcome: CycleOutcome,
): { status: ImageImportStatus; moves: TagMove[]; cuts: TagCut[]; bytes: number; fullBytes: number } {
  const tags = specTags(ctx.spec);
  const previousByTag = new Map((previous?.tags ?? []).map((t) => [t.tag, t]));
  const moves: TagMove[] = [];
  const tagContext = { now: ctx.now, generation: ctx.generation, imageRef: (digest: string) => `${ctx.host}/${ctx.spec.repository}@${digest}` };

  let tagStatuses: TagStatus[];
  if (outcome.kind === 'resolved' || outcome.kind === 'failed') {
    tagStatuses = tags.map((tag) => {
      const resolution: TagResolution =
        outcome.kind === 'failed'
          ? { found: false, reason: outcome.reason, message: outcome.message }
          : (outcome.tags.get(tag) ?? { found: false, reason: ImportReason.TagNotFound, message: `ECR did not report tag ${tag}` });
      const next = nextTagStatus(previousByTag.get(tag), tag, resolution, tagContext);
      if (next.moved) moves.push(next.moved);
      return next.status;
    });
  } else {
    tagStatuses = tags.flatMap((tag) => previousByTag.get(tag) ?? []);
  }

  let conditions: Condition[] = previous?.conditions ?? [];
  const ready = readyUpdate(ctx, outcome);
  if (ready) conditions = setCondition(conditions, ready, ctx.generation, ctx.now);
  conditions = ctx.spec.importPolicy?.suspend
    ? setCondition(
        conditions,
        {
          type: ImportConditionType.Suspended,
          status: 'True',
          reason: ImportReason.Suspended,
          message: 'spec.importPolicy.suspend is true: tags are not re-checked on a schedule; a spec change still imports',
        },
        ctx.generation,
        ctx.now,
      )
    : removeCondition(conditions, ImportConditionType.Suspended);
  const progress = progressOf(ctx, outcome, findCondition(conditions, ImportConditionType.Ready));
  if (progress) conditions = setProgress(conditions, progress, ctx.generation, ctx.now);

  const attempted = outcome.kind === 'resolved' || outcome.kind === 'failed';
  const defaultTag = defaultTagOf(ctx.spec);
  const defaultDigest = tagStatuses.find((t) => t.tag === defaultTag)?.digest;
  const status: ImageImportStatus = {
    observedGeneration: outcome.kind === 'unchanged' ? previous?.observedGeneration : ctx.generation,
    conditions,
    lastImportTime: attempted ? toKubeTime(ctx.now) : previous?.lastImportTime,
    nextImportTime: ctx.nextImportTime ? toKubeTime(ctx.nextImportTime) : undefined,
    pullSecretName: ctx.pullSecretName ?? previous?.pullSecretName,
    defaultTag,
    defaultDigest,
    defaultShortDigest: defaultDigest ? shortDigest(defaultDigest) : undefined,
    tags: tagStatuses,
  };
  const { status: bounded, cuts, bytes, fullBytes } = boundStatus(status);
  return { status: bounded, moves, cuts, bytes, fullBytes };
}

/**
 * kstatus's reading of the import (see PROGRESS_BY_REASON): done when Ready or suspended, otherwise
 * Reconciling or Stalled after the Ready reason. Undefined leaves both as the last import set them.
 */
function progressOf(ctx: StatusContext, outcome: CycleOutcome, ready: Condition | undefined): Progress | undefined {
  if (ctx.spec.importPolicy?.suspend || ready?.status === 'True') return { state: 'done' };
  if (!ready || outcome.kind === 'unchanged') return undefined;
  const { reason, message } = ready;
  switch (outcome.kind) {
    case 'waiting':
      return { state: outcome.stalled ? 'stalled' : progressOfReason(reason), reason, message };
    case 'failed':
      return { state: progressOfReason(reason), reason, message };
    case 'resolved': {
      const stalledReason = stalledReasonOf(ctx, outcome.tags, reason);
      return stalledReason ? { state: 'stalled', reason: stalledReason, message } : { state: 'reconciling', reason, message };
    }
  }
}

/**
 * The reason a person must act on some tag, or undefined when every tag's problem is being retried:
 * the Ready reason when it is one of them, else the first tag's. A failed pull check needs a person
 * unless it failed in a way that retrying fixes (the registry unreachable, throttling, 5xx).
 */
function stalledReasonOf(ctx: StatusContext, resolutions: ReadonlyMap<string, TagResolution>, readyReason: string): string | undefined {
  const stalled = specTags(ctx.spec).flatMap((tag) => {
    const r = resolutions.get(tag);
    if (!r) return [ImportReason.TagNotFound];
    if (!r.found) return progressOfReason(r.reason) === 'stalled' ? [r.reason] : [];
    return !r.pull.ok && !r.pull.retryable ? [ImportReason.PullCheckFailed] : [];
  });
  return stalled.includes(readyReason) ? readyReason : stalled[0];
}

/** `sha256:4f53cda18c2b…` → `4f53cda18c2b`. */
export function shortDigest(digest: string): string {
  return (digest.split(':')[1] ?? digest).slice(0, SHORT_DIGEST_LENGTH);
}

function readyUpdate(ctx: StatusContext, outcome: CycleOutcome): ConditionUpdate | undefined {
  const type = ImportConditionType.Ready;
  switch (outcome.kind) {
    case 'unchanged':
      return undefined;
    case 'failed':
    case 'waiting':
      return { type, status: 'False', reason: outcome.reason, message: outcome.message };
    case 'resolved':
      return summarize(ctx, outcome.tags);
  }
}

function summarize(ctx: StatusContext, resolutions: ReadonlyMap<string, TagResolution>): ConditionUpdate {
  const type = ImportConditionType.Ready;
  const tags = specTags(ctx.spec);
  const repository = ctx.spec.repository;
  const missing: string[] = [];
  const otherwise: string[] = [];
  const explained: string[] = [];
  const unpulled: string[] = [];
  let firstReason: string | undefined;
  for (const tag of tags) {
    const r: TagResolution = resolutions.get(tag) ?? { found: false, reason: ImportReason.TagNotFound, message: '' };
    if (!r.found) {
      if (r.reason === ImportReason.TagNotFound) {
        missing.push(tag);
        // ECR's own reason, when it says more than that the tag is missing (an unsupported manifest media type, say).
        if (r.message && !/^tag .*: ImageNotFound(?: \(Requested image not found\))?$|^ECR did not report tag/.test(r.message)) explained.push(r.message);
      } else otherwise.push(r.message);
      firstReason ??= r.reason;
    } else if (!r.pull.ok) {
      unpulled.push(`tag ${tag}: ${r.pull.message}`);
    }
  }
  const unresolved = missing.length + otherwise.length;
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`${plural(missing.length, 'Tag')} ${missing.join(', ')} not found in repository ${repository}`);
  parts.push(...explained, ...otherwise);
  if (unresolved > 0) parts.push(`${tags.length - unresolved} of ${tags.length} tags resolved`);
  if (unpulled.length > 0) {
    parts.push(`Pull check with pull secret ${ctx.pullSecretName ?? '(none)'} failed for ${unpulled.join('; ')}`);
  }
  if (unresolved > 0) {
    // TagNotFound names the whole problem when any tag is missing; otherwise the first tag's reason does.
    const reason = missing.length > 0 ? ImportReason.TagNotFound : (firstReason ?? ImportReason.TagNotFound);
    return { type, status: 'False', reason, message: parts.join('; ') };
  }
  if (unpulled.length > 0) return { type, status: 'False', reason: ImportReason.PullCheckFailed, message: parts.join('; ') };
  const defaultTag = defaultTagOf(ctx.spec);
  const defaultResolution = resolutions.get(defaultTag);
  const digest = defaultResolution?.found ? defaultResolution.digest : '';
  return {
    type,
    status: 'True',
    reason: ImportReason.Imported,
    message: `Imported ${tags.length} ${plural(tags.length, 'tag')} of ${repository}; ${defaultTag} is ${digest}, pullable with pull secret ${ctx.pullSecretName}`,
  };
}

function plural(count: number, noun: string): string {
  return count === 1 ? noun : `${noun}s`;
}
