import { REGISTRY_WAIT_REASONS } from '../../src/imageimport/reasons.ts';
import type { ClusterRegistryState, EventState, PullSecretState, Snapshot } from './observer.ts';

/** Something worth telling the user, in a sentence. */
export interface Moment {
  atMs: number;
  text: string;
  tone: 'good' | 'info' | 'warn';
}

/**
 * Follows the snapshots and turns changes into plain sentences (a secret rotated, a tag moved), and
 * keeps the figures the demo reports: time to the first secret and the first rotation, and whether a
 * pull secret ever held a token that had expired or that the registry refused.
 */
export class Timeline {
  readonly startedAtMs: number;
  readonly moments: Moment[] = [];
  firstSecretAtMs: number | undefined;
  firstRotationAtMs: number | undefined;
  firstImportAtMs: number | undefined;
  firstClusterSecretAtMs: number | undefined;
  firstClusterRotationAtMs: number | undefined;
  samples = 0;
  expiredSamples = 0;
  refusedSamples = 0;
  /** Times a namespace still selected lost the ClusterEcrRegistry pull secret it held. */
  lostPullSecrets = 0;
  /** Least lifetime left on a pull secret's token at any sample. */
  minRemainingMs = Number.POSITIVE_INFINITY;
  tagMovesSeen = 0;
  private readonly rotationCount = new Map<string, number>();
  private readonly clusterRotationCount = new Map<string, number>();
  private readonly tokens = new Map<string, { tokenId: string; expiresAtMs?: number }>();
  /** By `registry/namespace`: the token each namespace's copy of a ClusterEcrRegistry's pull secret held at the last sample. */
  private readonly clusterTokens = new Map<string, { tokenId: string; expiresAtMs?: number }>();
  /** By ClusterEcrRegistry: every token its pull secrets have held, so one rotation across many namespaces counts once. */
  private readonly clusterTokenIds = new Map<string, Set<string>>();
  private readonly clusterCounts = new Map<string, string>();
  private readonly digests = new Map<string, string>();
  private readonly readyReasons = new Map<string, string>();
  private readonly seenEvents = new Set<string>();

  constructor(startedAtMs: number) {
    this.startedAtMs = startedAtMs;
  }

  rotations(registry: string): number {
    return this.rotationCount.get(registry) ?? 0;
  }

  clusterRotations(registry: string): number {
    return this.clusterRotationCount.get(registry) ?? 0;
  }

  totalRotations(): number {
    let total = 0;
    for (const n of this.rotationCount.values()) total += n;
    for (const n of this.clusterRotationCount.values()) total += n;
    return total;
  }

  note(text: string, tone: Moment['tone'] = 'info', atMs = Date.now()): Moment {
    const moment = { atMs, text, tone };
    this.moments.push(moment);
    return moment;
  }

  /** Folds in one snapshot; returns the moments it produced. */
  update(snapshot: Snapshot): Moment[] {
    const before = this.moments.length;
    const now = snapshot.atMs;
    for (const registry of snapshot.registries) {
      this.readyChange(`EcrRegistry ${registry.name}`, registry.ready?.status, registry.ready?.reason, registry.ready?.message, now);
      const secret = registry.pullSecret;
      if (!secret) continue;
      this.sample(secret, now);

      const key = registry.name;
      const previous = this.tokens.get(key);
      const lifetime = secret.issuedAtMs !== undefined && secret.expiresAtMs !== undefined ? secret.expiresAtMs - secret.issuedAtMs : undefined;
      if (!previous) {
        this.firstSecretAtMs ??= now;
        const accounts = registry.serviceAccounts.length > 0 ? `; ServiceAccount ${registry.serviceAccounts.join(', ')} lists it in imagePullSecrets` : '';
        this.note(`Pull secret ${secret.name} created, holding a fresh ECR token valid for ${seconds(lifetime)}${accounts}.`, 'good', now);
      } else if (previous.tokenId !== secret.tokenId) {
        const count = (this.rotationCount.get(key) ?? 0) + 1;
        this.rotationCount.set(key, count);
        this.firstRotationAtMs ??= now;
        const left = previous.expiresAtMs !== undefined ? previous.expiresAtMs - now : undefined;
        // Registries with the same keys share one token per refresh: name the one that got it first.
        const sharedWith = [...this.clusterTokens].find(([, t]) => t.tokenId === secret.tokenId)?.[0].split('/')[0];
        const shared = sharedWith !== undefined ? ` (the token ClusterEcrRegistry ${sharedWith} already serves, from the same keys: no ECR call of its own)` : '';
        const text =
          left === undefined
            ? `Pull secret ${secret.name} rotated (#${count}): a new token valid for ${seconds(lifetime)}${shared}.`
            : left > 0
              ? `Pull secret ${secret.name} rotated (#${count}): new token valid for ${seconds(lifetime)}${shared}; the old one still had ${seconds(left)} left, so no pod ever saw it expire.`
              : `Pull secret ${secret.name} rotated (#${count}), but only ${seconds(-left)} after the old token expired.`;
        this.note(text, left === undefined || left > 0 ? 'good' : 'warn', now);
      }
      this.tokens.set(key, { tokenId: secret.tokenId, ...(secret.expiresAtMs !== undefined ? { expiresAtMs: secret.expiresAtMs } : {}) });
    }

    for (const registry of snapshot.clusterRegistries) this.clusterUpdate(registry, now);

    for (const imageImport of snapshot.imports) {
      this.readyChange(`ImageImport ${imageImport.name}`, imageImport.ready?.status, imageImport.ready?.reason, imageImport.ready?.message, now);
      const resolved = imageImport.tags.filter((t) => t.digest);
      if (this.firstImportAtMs === undefined && resolved.length > 0 && imageImport.ready?.status === 'True') {
        this.firstImportAtMs = now;
        const tags = resolved.map((t) => `${t.tag} -> ${shortDigest(t.digest)}`).join(', ');
        const platforms = resolved[0]?.platforms.length ? ` (an index for ${resolved[0].platforms.join(' and ')})` : '';
        this.note(`ImageImport ${imageImport.name} resolved ${tags}${platforms}, and pulled the image config with the pull secret.`, 'good', now);
      }
      for (const tag of resolved) {
        const key = `${imageImport.name}:${tag.tag}`;
        const previous = this.digests.get(key);
        if (previous !== undefined && previous !== tag.digest) {
          this.tagMovesSeen += 1;
          this.note(`ImageImport ${imageImport.name} noticed tag ${tag.tag} move ${shortDigest(previous)} -> ${shortDigest(tag.digest)} (Event TagUpdated).`, 'good', now);
        }
        this.digests.set(key, tag.digest!);
      }
    }
    return this.moments.slice(before);
  }

  /** Counts a pull secret sample: was its token expired, and did the registry take its login? */
  private sample(secret: PullSecretState, now: number): void {
    this.samples += 1;
    if (secret.expiresAtMs !== undefined) {
      const remaining = secret.expiresAtMs - now;
      this.minRemainingMs = Math.min(this.minRemainingMs, remaining);
      if (remaining <= 0) this.expiredSamples += 1;
    }
    if (secret.registryStatus !== undefined && secret.registryStatus !== 200) this.refusedSamples += 1;
  }

  /** A ClusterEcrRegistry: its Ready condition and counts, and its one pull secret appearing, rotating or going in each namespace. */
  private clusterUpdate(registry: ClusterRegistryState, now: number): void {
    const what = `ClusterEcrRegistry ${registry.name}`;
    this.readyChange(what, registry.ready?.status, registry.ready?.reason, registry.ready?.message, now);
    const seen = this.clusterTokenIds.get(registry.name) ?? new Set<string>();
    this.clusterTokenIds.set(registry.name, seen);
    const appeared: string[] = [];
    const rotated: Array<{ namespace: string; secret: PullSecretState; leftMs?: number }> = [];
    for (const { namespace, selected, pullSecret: secret } of registry.namespaces) {
      const key = `${registry.name}/${namespace}`;
      const previous = this.clusterTokens.get(key);
      if (!secret) {
        if (previous && selected) {
          this.lostPullSecrets += 1;
          this.note(`${what}: pull secret ${registry.pullSecretName} is gone from namespace ${namespace}, which is still selected.`, 'warn', now);
        } else if (previous) {
          this.note(`${what} removed pull secret ${registry.pullSecretName} from namespace ${namespace}, no longer selected.`, 'info', now);
        }
        this.clusterTokens.delete(key);
        continue;
      }
      this.sample(secret, now);
      if (!previous) appeared.push(namespace);
      else if (previous.tokenId !== secret.tokenId) {
        rotated.push({ namespace, secret, ...(previous.expiresAtMs !== undefined ? { leftMs: previous.expiresAtMs - now } : {}) });
      }
      this.clusterTokens.set(key, { tokenId: secret.tokenId, ...(secret.expiresAtMs !== undefined ? { expiresAtMs: secret.expiresAtMs } : {}) });
    }
    const held = registry.namespaces.map((n) => n.pullSecret).filter((p): p is PullSecretState => p !== undefined);
    if (appeared.length > 0) {
      this.firstClusterSecretAtMs ??= now;
      const secret = registry.namespaces.find((n) => n.namespace === appeared[0])?.pullSecret;
      const sharedWith = [...this.tokens].find(([, t]) => t.tokenId === secret?.tokenId)?.[0];
      const fresh =
        secret === undefined
          ? 'a token'
          : seen.has(secret.tokenId)
            ? 'the token its other namespaces hold'
            : sharedWith !== undefined
              ? `the token EcrRegistry ${sharedWith} holds (the same AWS keys: one ECR token per credential set)`
              : 'a fresh ECR token';
      this.note(`${what} wrote pull secret ${registry.pullSecretName} into namespace ${appeared.join(', ')}, holding ${fresh}, valid for ${seconds(lifetimeOf(secret))}.`, 'good', now);
    }
    const newTokens = new Set(rotated.map((r) => r.secret.tokenId).filter((id) => !seen.has(id)));
    if (newTokens.size > 0) {
      const count = this.clusterRotations(registry.name) + newTokens.size;
      this.clusterRotationCount.set(registry.name, count);
      this.firstClusterRotationAtMs ??= now;
      const lefts = rotated.flatMap((r) => (r.leftMs === undefined ? [] : [r.leftMs]));
      const least = lefts.length > 0 ? Math.min(...lefts) : undefined;
      const where = `${rotated.length} namespace${rotated.length > 1 ? 's' : ''} (${rotated.map((r) => r.namespace).join(', ')})`;
      const lifetime = seconds(lifetimeOf(rotated[0]!.secret));
      const sharedWith = [...this.tokens].find(([, t]) => newTokens.has(t.tokenId))?.[0];
      const shared = sharedWith !== undefined ? ` (the token EcrRegistry ${sharedWith} got with the same keys: no ECR call of its own)` : '';
      const text =
        least === undefined
          ? `Cluster pull secret ${registry.pullSecretName} rotated (#${count}) in ${where}: one new token valid for ${lifetime}${shared}.`
          : least > 0
            ? `Cluster pull secret ${registry.pullSecretName} rotated (#${count}) in ${where}: one new token valid for ${lifetime}${shared}; the old one still had ${seconds(least)} left.`
            : `Cluster pull secret ${registry.pullSecretName} rotated (#${count}) in ${where}, but only ${seconds(-least)} after the old token expired.`;
      this.note(text, least === undefined || least > 0 ? 'good' : 'warn', now);
    } else if (rotated.length > 0) {
      this.note(`Cluster pull secret ${registry.pullSecretName} in ${rotated.map((r) => r.namespace).join(', ')} caught up with the current token.`, 'info', now);
    }
    for (const secret of held) seen.add(secret.tokenId);
    // After the secrets, so a namespace's pull secret is told before the count that includes it.
    if (registry.namespacesSelected !== undefined) {
      const counts = `${registry.namespacesSelected} selected, ${registry.namespacesReady ?? 0} ready, ${registry.namespacesFailed ?? 0} failed`;
      if (this.clusterCounts.get(registry.name) !== counts) this.note(`${what} reports namespaces ${counts}.`, registry.namespacesFailed ? 'warn' : 'info', now);
      this.clusterCounts.set(registry.name, counts);
    }
  }

  /** Events not returned before, oldest first. */
  newEvents(snapshot: Snapshot): EventState[] {
    const fresh = snapshot.events.filter((e) => !this.seenEvents.has(`${e.uid}/${e.count}`));
    for (const e of fresh) this.seenEvents.add(`${e.uid}/${e.count}`);
    return fresh.reverse();
  }

  private readyChange(what: string, status: string | undefined, reason: string | undefined, message: string | undefined, now: number): void {
    if (status === undefined) return;
    const key = `${status}/${reason}`;
    const previous = this.readyReasons.get(what);
    this.readyReasons.set(what, key);
    if (previous === key) return;
    const waiting = status === 'False' && reason !== undefined && REGISTRY_WAIT_REASONS.has(reason);
    if (waiting) {
      // An ImageImport applied together with its EcrRegistry waits a moment for it: expected, not a fault.
      if (previous === undefined) this.note(`${what} waits for its EcrRegistry to become Ready (${reason}).`, 'info', now);
      return;
    }
    if (status === 'True') {
      // The first Ready=True is told by the secret and import sentences; a recovery from a failure is news.
      const recovered = previous?.startsWith('False/') === true && !REGISTRY_WAIT_REASONS.has(previous.slice('False/'.length));
      if (recovered) this.note(`${what} recovered: Ready=True (${reason}).`, 'good', now);
      return;
    }
    this.note(`${what}: Ready=${status} (${reason}): ${message ?? ''}`, 'warn', now);
  }
}

function lifetimeOf(secret: PullSecretState | undefined): number | undefined {
  return secret?.issuedAtMs !== undefined && secret.expiresAtMs !== undefined ? secret.expiresAtMs - secret.issuedAtMs : undefined;
}

export function shortDigest(digest: string | undefined): string {
  if (!digest) return '-';
  const [algorithm, hex] = digest.split(':');
  return hex ? `${algorithm}:${hex.slice(0, 12)}` : digest.slice(0, 19);
}

/** `42s`, `1m05s`, `3h02m`. */
export function seconds(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const total = Math.round(ms / 1000);
  const sign = total < 0 ? '-' : '';
  const abs = Math.abs(total);
  if (abs < 60) return `${sign}${abs}s`;
  if (abs < 3600) return `${sign}${Math.floor(abs / 60)}m${String(abs % 60).padStart(2, '0')}s`;
  return `${sign}${Math.floor(abs / 3600)}h${String(Math.floor((abs % 3600) / 60)).padStart(2, '0')}m`;
}
