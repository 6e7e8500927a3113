import { type ImageConfig, type ImagePlatform, TAG_HISTORY_LIMIT, type TagHistoryEntry, type TagStatus } from '../api/image-import.ts';
import { setCondition } from '../runtime/conditions.ts';
import { toKubeTime } from '../runtime/kube-time.ts';
import { ImportReason, TagConditionType } from './reasons.ts';

/** Whether the image's config could be fetched through the registry with the pull secret. */
export type PullCheck = { ok: true; config: ImageConfig } | { ok: false; message: string; retryable: boolean };

/** What one import cycle found for a tag. */
export type TagResolution =
  | {
      found: true;
      digest: string;
      mediaType: string;
      pushedAt?: Date;
      sizeBytes?: number;
      /** Set for an index or manifest list. */
      platforms?: ImagePlatform[];
      pull: PullCheck;
    }
  | { found: false; reason: string; message: string };

export interface TagMove {
  tag: string;
  from: string;
  to: string;
}

export interface TagStatusContext {
  now: Date;
  generation: number | undefined;
  /** The digest-pinned reference, `<host>/<repository>@<digest>`. */
  imageRef(digest: string): string;
}

/**
 * A tag's next status. A tag that was not found keeps its last good fields and says why in its
 * Resolved condition; a tag at a new digest pushes the old one into its history.
 */
export function nextTagStatus(
  previous: TagStatus | undefined,
  tag: string,
  resolution: TagResolution,
  ctx: TagStatusContext,
): { status: TagStatus; moved?: TagMove } {
  const setTagCondition = (conditions: TagStatus['conditions'], type: string, ok: boolean, reason: string, message: string) =>
    setCondition(conditions, { type, status: ok ? 'True' : 'False', reason, message }, ctx.generation, ctx.now);

  if (!resolution.found) {
    const { conditions, ...lastGood } = previous ?? { tag };
    return {
      status: { ...lastGood, tag, conditions: setTagCondition(conditions, TagConditionType.Resolved, false, resolution.reason, resolution.message) },
    };
  }

  const sameDigest = previous?.digest === resolution.digest;
  const moved = previous?.digest !== undefined && !sameDigest ? { tag, from: previous.digest, to: resolution.digest } : undefined;
  const history =
    moved && previous?.digest
      ? pushHistory(previous.history, { digest: previous.digest, ...(previous.digestChangedAt ? { firstSeen: previous.digestChangedAt } : {}) })
      : (previous?.history ?? []);
  // A failed pull check keeps the config it last read, but only while that config belongs to this digest,
  // and with it the record of what was cut from that config.
  const keepsConfig = !resolution.pull.ok && sameDigest;
  const config = resolution.pull.ok ? resolution.pull.config : keepsConfig ? previous?.config : undefined;
  const configCuts = keepsConfig ? (previous?.truncatedFields ?? []).filter((f) => f === 'config' || f === 'config.labels') : [];

  let conditions = setTagCondition(previous?.conditions, TagConditionType.Resolved, true, ImportReason.Resolved, `Tag ${tag} is ${resolution.digest}`);
  conditions = resolution.pull.ok
    ? setTagCondition(conditions, TagConditionType.Pullable, true, ImportReason.Pulled, 'Fetched the image config through the registry with the pull secret')
    : setTagCondition(conditions, TagConditionType.Pullable, false, ImportReason.PullCheckFailed, resolution.pull.message);

  const status: TagStatus = {
    tag,
    digest: resolution.digest,
    image: ctx.imageRef(resolution.digest),
    ...(resolution.pushedAt ? { pushedAt: toKubeTime(resolution.pushedAt) } : {}),
    ...(resolution.sizeBytes !== undefined ? { sizeBytes: resolution.sizeBytes } : {}),
    mediaType: resolution.mediaType,
    ...(resolution.platforms && resolution.platforms.length > 0 ? { platforms: resolution.platforms } : {}),
    ...(config && Object.keys(config).length > 0 ? { config } : {}),
    pullable: resolution.pull.ok,
    digestChangedAt: sameDigest && previous?.digestChangedAt ? previous.digestChangedAt : toKubeTime(ctx.now),
    ...(history.length > 0 ? { history } : {}),
    conditions,
    ...(configCuts.length > 0 ? { truncatedFields: configCuts } : {}),
  };
  return moved ? { status, moved } : { status };
}

/**
 * Puts `entry` at the front of a tag's history, newest first, at most `limit` long. A digest the
 * tag returns to appears once, at its latest position.
 */
export function pushHistory(history: readonly TagHistoryEntry[] | undefined, entry: TagHistoryEntry, limit = TAG_HISTORY_LIMIT): TagHistoryEntry[] {
  return [entry, ...(history ?? []).filter((h) => h.digest !== entry.digest)].slice(0, Math.max(0, limit));
}
