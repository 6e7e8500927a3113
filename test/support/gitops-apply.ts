import { setTimeout as sleep } from 'node:timers/promises';
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { KubectlOptions, KubectlResult } from './controlplane/index.ts';

/**
 * Helpers that play a GitOps tool against a ServiceAccount the operator also writes to, and count
 * what reaches the API server: every change of the ServiceAccount's resourceVersion, and who made it.
 */

/** How a GitOps tool writes a manifest, and under which field manager. */
export type ApplyStyle = 'server-side' | 'client-side';

export const APPLY_STYLES: Record<ApplyStyle, { tool: string; manager: string; args: readonly string[] }> = {
  // Flux's kustomize-controller always applies server-side and forces ownership of what it applies.
  'server-side': {
    tool: 'Flux',
    manager: 'kustomize-controller',
    args: ['apply', '--server-side', '--force-conflicts', '--field-manager=kustomize-controller'],
  },
  // Argo CD's default sync: kubectl's client-side apply (a three-way strategic merge patch).
  'client-side': { tool: 'Argo CD', manager: 'argocd-controller', args: ['apply', '--field-manager=argocd-controller'] },
};

export type Kubectl = (args: string[], options?: KubectlOptions) => Promise<KubectlResult>;

/** A ServiceAccount manifest as a repository would hold it; `imagePullSecrets` undefined leaves the field out. */
export function serviceAccountManifest(namespace: string, name: string, imagePullSecrets?: readonly string[]): string {
  const manifest = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/part-of': 'gitops-app' } },
    ...(imagePullSecrets ? { imagePullSecrets: imagePullSecrets.map((secret) => ({ name: secret })) } : {}),
  };
  return JSON.stringify(manifest);
}

/** Applies `manifest` as the GitOps tool of `style` would; throws with kubectl's stderr when it fails. */
export async function applyManifest(kubectl: Kubectl, manifest: string, style: ApplyStyle): Promise<string> {
  const result = await kubectl([...APPLY_STYLES[style].args, '-f', '-'], { stdin: manifest });
  if (result.code !== 0) throw new Error(`kubectl ${APPLY_STYLES[style].args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** The slice of a ServiceAccount (as JSON from a watch) that the log reads. */
interface WatchedServiceAccount {
  metadata?: { resourceVersion?: string; managedFields?: ManagedFieldsEntry[] };
  imagePullSecrets?: Array<{ name?: string }>;
}

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  /** A string in a watch event, a Date once client-node has deserialized the object. */
  time?: string | Date;
  fieldsV1?: object;
}

/** One change of the ServiceAccount's resourceVersion. */
export interface ObservedWrite {
  resourceVersion: string;
  /** Field managers whose managedFields entry this write created, re-timed or grew: who wrote it. */
  writers: string[];
  /** imagePullSecrets names after the write. */
  imagePullSecrets: string[];
  atMs: number;
}

/**
 * Follows one ServiceAccount with a watch from a known resourceVersion and records every write. A
 * write is attributed by comparing managedFields before and after it: the writer's entry is new, has
 * a new time, or owns a field it did not own before (a forced apply also shrinks the loser's entry).
 */
export class ServiceAccountWriteLog {
  readonly #writes: ObservedWrite[] = [];
  readonly #watch: Watch;
  readonly #path: string;
  readonly #name: string;
  readonly #pullSecret: string;
  readonly #startedMs: number;
  readonly #startedPresent: boolean;
  #previous: WatchedServiceAccount;
  #resourceVersion: string;
  #abort: AbortController | undefined;
  #stopped = false;
  #failure: unknown;

  private constructor(kubeConfig: KubeConfig, namespace: string, name: string, initial: WatchedServiceAccount, pullSecret: string) {
    this.#watch = new Watch(kubeConfig);
    this.#path = `/api/v1/namespaces/${namespace}/serviceaccounts`;
    this.#name = name;
    this.#pullSecret = pullSecret;
    this.#previous = initial;
    this.#resourceVersion = initial.metadata?.resourceVersion ?? '';
    this.#startedMs = Date.now();
    this.#startedPresent = names(initial).includes(pullSecret);
  }

  /** Starts recording the writes made after `initial` (a ServiceAccount as read, with its resourceVersion). */
  static async start(kubeConfig: KubeConfig, namespace: string, name: string, initial: WatchedServiceAccount, pullSecret: string): Promise<ServiceAccountWriteLog> {
    const log = new ServiceAccountWriteLog(kubeConfig, namespace, name, initial, pullSecret);
    await log.#open();
    return log;
  }

  /** The resourceVersion of the newest write (or bookmark) seen. */
  get resourceVersion(): string {
    this.#throwIfFailed();
    return this.#resourceVersion;
  }

  writes(): ObservedWrite[] {
    this.#throwIfFailed();
    return [...this.#writes];
  }

  /** Writes per field manager. */
  writesBy(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const write of this.writes()) for (const writer of write.writers.length ? write.writers : ['unknown']) counts[writer] = (counts[writer] ?? 0) + 1;
    return counts;
  }

  /** Milliseconds since the log started during which imagePullSecrets lacked the pull secret. */
  absentMs(untilMs = Date.now()): number {
    let absent = 0;
    let present = this.#startedPresent;
    let since = this.#startedMs;
    for (const write of this.writes()) {
      if (!present) absent += write.atMs - since;
      present = write.imagePullSecrets.includes(this.#pullSecret);
      since = write.atMs;
    }
    if (!present) absent += untilMs - since;
    return absent;
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  async #open(): Promise<void> {
    this.#abort = await this.#watch.watch(
      this.#path,
      { fieldSelector: `metadata.name=${this.#name}`, resourceVersion: this.#resourceVersion, allowWatchBookmarks: true },
      (phase, object: WatchedServiceAccount) => this.#observe(phase, object),
      (error: unknown) => {
        if (this.#stopped) return;
        if (error && !(error instanceof Error && error.name === 'TimeoutError')) {
          this.#failure = error;
          return;
        }
        // The API server ends watches after a while, and client-node aborts one idle for 30 s:
        // carry on from the last resourceVersion seen, so no write is missed.
        this.#open().catch((reopenError: unknown) => {
          this.#failure = reopenError;
        });
      },
    );
  }

  #observe(phase: string, object: WatchedServiceAccount): void {
    const resourceVersion = object.metadata?.resourceVersion ?? '';
    if (phase === 'ERROR') {
      this.#failure = new Error(`watch of ServiceAccount ${this.#name} failed: ${JSON.stringify(object)}`);
      return;
    }
    if (phase === 'BOOKMARK') {
      this.#resourceVersion = resourceVersion;
      return;
    }
    this.#writes.push({
      resourceVersion,
      writers: writersOf(this.#previous.metadata?.managedFields ?? [], object.metadata?.managedFields ?? []),
      imagePullSecrets: names(object),
      atMs: Date.now(),
    });
    this.#previous = object;
    this.#resourceVersion = resourceVersion;
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw new Error(`ServiceAccount ${this.#name} write log failed`, { cause: this.#failure });
  }
}

function names(account: WatchedServiceAccount): string[] {
  return (account.imagePullSecrets ?? []).map((ref) => ref.name ?? '');
}

/** The managers whose entry in `after` is new, re-timed, or owns a field it did not own in `before`. */
export function writersOf(before: readonly ManagedFieldsEntry[], after: readonly ManagedFieldsEntry[]): string[] {
  const key = (entry: ManagedFieldsEntry) => `${entry.manager}\u0000${entry.operation}\u0000${entry.subresource ?? ''}`;
  const previous = new Map(before.map((entry) => [key(entry), entry]));
  const writers = new Set<string>();
  for (const entry of after) {
    const earlier = previous.get(key(entry));
    const owned = fieldPaths(earlier?.fieldsV1);
    if (!earlier || timeOf(earlier) !== timeOf(entry) || fieldPaths(entry.fieldsV1).some((path) => !owned.includes(path))) {
      writers.add(entry.manager ?? 'unknown');
    }
  }
  return [...writers].sort();
}

function timeOf(entry: ManagedFieldsEntry): number {
  return entry.time instanceof Date ? entry.time.getTime() : Date.parse(entry.time ?? '');
}

/** The managers that own `field` (a top-level FieldsV1 key such as `f:imagePullSecrets`). */
export function ownersOf(account: WatchedServiceAccount, field: string): string[] {
  return (account.metadata?.managedFields ?? [])
    .filter((entry) => typeof entry.fieldsV1 === 'object' && entry.fieldsV1 !== null && field in entry.fieldsV1)
    .map((entry) => `${entry.manager} (${entry.operation})`)
    .sort();
}

/** Every path in a FieldsV1 set, e.g. `f:metadata/f:labels/f:app`. */
function fieldPaths(fields: unknown, prefix = ''): string[] {
  if (typeof fields !== 'object' || fields === null) return [];
  return Object.entries(fields).flatMap(([name, child]) => {
    const path = prefix ? `${prefix}/${name}` : name;
    return [path, ...fieldPaths(child, path)];
  });
}

/** Applies `manifestFor(i)` `applies` times, `intervalMs` apart (the GitOps tool's sync interval), calling `afterEach` after each. */
export async function applyOnSchedule(
  kubectl: Kubectl,
  style: ApplyStyle,
  schedule: { applies: number; intervalMs: number },
  manifestFor: (index: number) => string,
  afterEach: (index: number) => Promise<void> = async () => {},
): Promise<void> {
  for (let index = 0; index < schedule.applies; index++) {
    if (index > 0) await sleep(schedule.intervalMs);
    await applyManifest(kubectl, manifestFor(index), style);
    await afterEach(index);
  }
}
