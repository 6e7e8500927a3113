import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { labelSelectorText, type ObserverOptions, readPullSecretState, type Snapshot } from './observer.ts';
import { CLUSTER_SAMPLE, type KubeObject, labelledNamespace, toYamlStream } from './samples.ts';
import type { Timeline } from './timeline.ts';

/**
 * The ClusterEcrRegistry part of the demo, in two acts: once the samples are Ready, apply a
 * ClusterEcrRegistry that selects namespaces by label (and a first such namespace); some seconds later,
 * create namespace team-b with the label and time how long it waits for a pull secret that works.
 */

/** How a namespace created with the label came to hold a working pull secret, timed from its creation. */
export interface NamespaceArrival {
  namespace: string;
  /** Just before the create request was sent. */
  createdAtMs: number;
  /** The pull secret could first be read. */
  writtenAfterMs?: number;
  /** Its login first worked at the registry (`GET /v2/` answered 200) with a token not yet expired. */
  workingAfterMs?: number;
  /** Set when the wait ended without a working pull secret. */
  gaveUp?: 'timeout' | 'stopped';
  ecrCallsBefore: number;
  ecrCallsAfter?: number;
}

/** What the view shows of the scene. */
export interface ClusterSceneState {
  registry: string;
  /** The namespace selector as `kubectl get namespaces -l` takes it. */
  selector: string;
  pullSecretName: string;
  appliedAtMs?: number;
  liveNamespace: string;
  /** When the live namespace is created; unset until the ClusterEcrRegistry is applied, or when the demo creates none. */
  liveNamespaceDueAtMs?: number;
  arrival?: NamespaceArrival;
}

export interface ClusterSceneOptions {
  kubeConfig: KubeConfig;
  /** Runs the real kubectl; throws when it fails. */
  kubectl(args: string[], stdin?: string): Promise<string>;
  /** The ClusterEcrRegistry, its credentials Secret and the first labelled namespace. */
  objects: readonly KubeObject[];
  /** Seconds from applying the ClusterEcrRegistry to creating the live namespace; 0 creates none. */
  namespaceSeconds: number;
  timeline: Timeline;
  checkLogin: ObserverOptions['checkLogin'];
  /** GetAuthorizationToken calls the emulator has answered, to show that a new namespace costs no ECR call. */
  tokenCalls(): number;
  signal: AbortSignal;
  /** How long the live namespace may wait for a working pull secret before the demo calls it a failure. */
  arrivalTimeoutMs?: number;
}

/** A namespace created this close to the end of a timed run is not judged: the run ended, not the operator. */
const JUDGE_AFTER_MS = 10_000;

export class ClusterScene {
  readonly state: ClusterSceneState;
  private readonly options: ClusterSceneOptions;
  private readonly core: CoreV1Api;
  private arrivalWait: Promise<void> | undefined;

  constructor(options: ClusterSceneOptions) {
    this.options = options;
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.state = {
      registry: CLUSTER_SAMPLE.name,
      selector: labelSelectorText({ matchLabels: { [CLUSTER_SAMPLE.labelKey]: CLUSTER_SAMPLE.labelValue } }),
      pullSecretName: CLUSTER_SAMPLE.name,
      liveNamespace: CLUSTER_SAMPLE.liveNamespace,
    };
  }

  /** Takes the next act when its time has come: called once a second with the latest snapshot. */
  async step(snapshot: Snapshot): Promise<void> {
    if (this.state.appliedAtMs === undefined) {
      if (samplesReady(snapshot)) await this.applyClusterRegistry();
      return;
    }
    const due = this.state.liveNamespaceDueAtMs;
    if (due !== undefined && this.state.arrival === undefined && Date.now() >= due) await this.createLiveNamespace();
  }

  /** Waits for the live namespace's measurement to end (the demo's stop signal ends it early). */
  async settle(): Promise<void> {
    await this.arrivalWait;
  }

  /** Why a timed run fails on this scene's account, if it does. */
  failure(): string | undefined {
    const arrival = this.state.arrival;
    if (!arrival || arrival.workingAfterMs !== undefined) return undefined;
    const waitedMs = Date.now() - arrival.createdAtMs;
    if (arrival.gaveUp === 'stopped' && waitedMs < JUDGE_AFTER_MS) return undefined;
    const written = arrival.writtenAfterMs !== undefined ? `its pull secret appeared after ${arrival.writtenAfterMs} ms but never worked at the registry` : 'no pull secret appeared';
    return `namespace ${arrival.namespace} carries label ${this.state.selector}, yet ${written} within ${(waitedMs / 1000).toFixed(0)}s`;
  }

  private async applyClusterRegistry(): Promise<void> {
    const { timeline } = this.options;
    const output = await this.options.kubectl(['apply', '-f', '-'], toYamlStream(this.options.objects));
    const now = Date.now();
    this.state.appliedAtMs = now;
    const secret = this.options.objects.find((o) => o.kind === 'Secret');
    timeline.note(
      `The samples are Ready. Applied a ClusterEcrRegistry ${this.state.registry} (from test/demo/samples.ts) that serves every namespace labelled ${this.state.selector}, ` +
        `with its AWS keys in Secret ${secret?.metadata.namespace}/${secret?.metadata.name}, and namespace ${CLUSTER_SAMPLE.firstNamespace} with that label: ` +
        `$ kubectl apply -f - -> ${output.split('\n').join(', ')}`,
      'info',
      now,
    );
    if (this.options.namespaceSeconds > 0) {
      this.state.liveNamespaceDueAtMs = now + this.options.namespaceSeconds * 1000;
      timeline.note(`Namespace ${this.state.liveNamespace} will be created with label ${this.state.selector} in ${this.options.namespaceSeconds}s.`, 'info', now);
    }
  }

  private async createLiveNamespace(): Promise<void> {
    const namespace = this.state.liveNamespace;
    const arrival: NamespaceArrival = { namespace, createdAtMs: Date.now(), ecrCallsBefore: this.options.tokenCalls() };
    // One request with the label already set, as `kubectl apply` of a Namespace manifest sends it; timed from just before it.
    await this.core.createNamespace({ body: labelledNamespace(namespace) as V1Namespace });
    this.state.arrival = arrival;
    this.options.timeline.note(`Namespace ${namespace} created with label ${this.state.selector}; ClusterEcrRegistry ${this.state.registry} selects it.`, 'info', arrival.createdAtMs);
    this.arrivalWait = this.waitForPullSecret(arrival);
  }

  /** Polls often, as the integration test does: the time to a working pull secret is the figure shown. */
  private async waitForPullSecret(arrival: NamespaceArrival): Promise<void> {
    const { signal, timeline } = this.options;
    const timeoutMs = this.options.arrivalTimeoutMs ?? 30_000;
    const name = this.state.pullSecretName;
    while (arrival.workingAfterMs === undefined) {
      if (signal.aborted) {
        arrival.gaveUp = 'stopped';
        return;
      }
      if (Date.now() - arrival.createdAtMs > timeoutMs) {
        arrival.gaveUp = 'timeout';
        timeline.note(`${arrival.namespace}: no working pull secret ${name} ${(timeoutMs / 1000).toFixed(0)}s after the namespace was created.`, 'warn');
        return;
      }
      const secret = await this.readSecret(arrival.namespace, name);
      if (secret) {
        const seenAtMs = Date.now();
        arrival.writtenAfterMs ??= seenAtMs - arrival.createdAtMs;
        const state = await readPullSecretState(secret, this.options.checkLogin);
        if (state.registryStatus === 200 && state.expiresAtMs !== undefined && state.expiresAtMs > Date.now()) {
          arrival.workingAfterMs = Date.now() - arrival.createdAtMs;
          arrival.ecrCallsAfter = this.options.tokenCalls();
          const calls =
            arrival.ecrCallsAfter === arrival.ecrCallsBefore
              ? `no ECR call was made for it (GetAuthorizationToken count still ${arrival.ecrCallsAfter}): it holds the token the other namespaces hold`
              : `GetAuthorizationToken count ${arrival.ecrCallsBefore} -> ${arrival.ecrCallsAfter} meanwhile`;
          timeline.note(
            `${arrival.namespace}: pull secret written after ${arrival.writtenAfterMs} ms (Secret ${name}); the registry accepted its login (GET /v2/ -> 200) after ${arrival.workingAfterMs} ms; ${calls}.`,
            'good',
          );
          return;
        }
      }
      await sleep(25, undefined, { signal }).catch(() => undefined);
    }
  }

  private async readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch {
      // Not written yet (404), or a transient failure: either way the poll asks again.
      return undefined;
    }
  }
}

/** Every EcrRegistry and ImageImport of deploy/samples reports Ready=True. */
function samplesReady(snapshot: Snapshot): boolean {
  const ready = (c: { status: string } | undefined) => c?.status === 'True';
  return snapshot.registries.length > 0 && snapshot.imports.length > 0 && snapshot.registries.every((r) => ready(r.ready)) && snapshot.imports.every((i) => ready(i.ready));
}
