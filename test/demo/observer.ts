import { createHash } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, EventsV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { ClusterEcrRegistry, LabelSelector, NamespaceFailure } from '../../src/api/cluster-ecr-registry.ts';
import type { EcrRegistry } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, ECR_REGISTRY, IMAGE_IMPORT, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import type { Condition } from '../../src/api/meta.ts';
import { parseDockerConfigJson } from '../../src/registry/docker-config.ts';
import { ANNOTATION_EXPIRES_AT, ANNOTATION_ISSUED_AT, CLUSTER_REGISTRY_LABEL, DOCKER_CONFIG_JSON_KEY } from '../../src/registry/pull-secret.ts';

/** What the demo shows, read once a second the way a user would look: through the Kubernetes API and /metrics. */
export interface Snapshot {
  atMs: number;
  registries: RegistryState[];
  clusterRegistries: ClusterRegistryState[];
  imports: ImportState[];
  /** Newest first. */
  events: EventState[];
  metrics: MetricsState | undefined;
  /** Set when the cluster could not be read this time. */
  error?: string;
}

export interface RegistryState {
  name: string;
  ready?: Condition;
  serviceAccountsReady?: Condition;
  nextRefreshMs?: number;
  serviceAccounts: string[];
  pullSecret?: PullSecretState;
}

/** A ClusterEcrRegistry as its status tells it, and its pull secret as each namespace holds it. */
export interface ClusterRegistryState {
  name: string;
  /** The namespace selector as `kubectl get -l` writes it. */
  selector: string;
  ready?: Condition;
  refreshed?: Condition;
  namespacesSelected?: number;
  namespacesReady?: number;
  namespacesFailed?: number;
  failedNamespaces: NamespaceFailure[];
  pullSecretName: string;
  nextRefreshMs?: number;
  /** Every namespace the selector matches (asked of the API server) or that holds the pull secret, by name. */
  namespaces: NamespacePullSecret[];
}

export interface NamespacePullSecret {
  namespace: string;
  /** The API server lists it under the registry's selector (and it is not excluded). */
  selected: boolean;
  pullSecret?: PullSecretState;
}

export interface PullSecretState {
  name: string;
  /** From the operator's annotations on the Secret. */
  issuedAtMs?: number;
  expiresAtMs?: number;
  hosts: string[];
  /** Tells tokens apart without keeping one: a short hash of the password. */
  tokenId: string;
  /** HTTP status of `GET /v2/` on the registry with this Secret's login, as the kubelet would send it. */
  registryStatus?: number;
}

export interface ImportState {
  name: string;
  repository: string;
  ready?: Condition;
  defaultTag?: string;
  nextImportMs?: number;
  interval?: string;
  tags: TagState[];
}

export interface TagState {
  tag: string;
  digest?: string;
  image?: string;
  platforms: string[];
  pullable?: boolean;
  digestChangedAtMs?: number;
  resolved?: Condition;
}

export interface EventState {
  uid: string;
  atMs: number;
  type: string;
  reason: string;
  regarding: string;
  note: string;
  count: number;
}

export interface MetricsState {
  /** ecr_operator_token_expiry_seconds by registry name. */
  tokenExpirySeconds: Map<string, number>;
  /** ecr_operator_ecr_api_calls_total summed over outcomes, by action. */
  ecrCalls: Map<string, number>;
  ecrErrors: number;
}

export interface ObserverOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  metricsUrl: string;
  /** Asks the registry whether a login works; returns the HTTP status. */
  checkLogin(host: string, username: string, password: string): Promise<number>;
}

export class ClusterObserver {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly events: EventsV1Api;
  private readonly options: ObserverOptions;

  constructor(options: ObserverOptions) {
    this.options = options;
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.events = options.kubeConfig.makeApiClient(EventsV1Api);
  }

  async snapshot(): Promise<Snapshot> {
    const atMs = Date.now();
    const namespace = this.options.namespace;
    const crd = (plural: string) => ({ group: API_GROUP, version: API_VERSION, namespace, plural });
    try {
      const [registryList, importList, secretList, accountList, eventList, clusterEventList, clusterRegistries, metrics] = await Promise.all([
        this.custom.listNamespacedCustomObject(crd(ECR_REGISTRY.plural)) as Promise<{ items: EcrRegistry[] }>,
        this.custom.listNamespacedCustomObject(crd(IMAGE_IMPORT.plural)) as Promise<{ items: ImageImport[] }>,
        this.core.listNamespacedSecret({ namespace, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` }),
        this.core.listNamespacedServiceAccount({ namespace }),
        this.events.listNamespacedEvent({ namespace }),
        // Events about a cluster-scoped object are recorded in namespace default.
        this.events.listNamespacedEvent({ namespace: 'default' }),
        this.clusterRegistries(),
        scrapeMetrics(this.options.metricsUrl),
      ]);
      const secrets = new Map(secretList.items.map((s) => [s.metadata?.name ?? '', s]));
      const registries = await Promise.all(
        registryList.items.map(async (registry): Promise<RegistryState> => {
          const secretName = registry.status?.pullSecretName ?? registry.spec.pullSecret?.name ?? registry.metadata.name!;
          const secret = secrets.get(secretName);
          const nextRefreshMs = parseTime(registry.status?.nextRefreshTime);
          const ready = condition(registry.status?.conditions, 'Ready');
          const serviceAccountsReady = condition(registry.status?.conditions, 'ServiceAccountsReady');
          return {
            name: registry.metadata.name!,
            ...(ready ? { ready } : {}),
            ...(serviceAccountsReady ? { serviceAccountsReady } : {}),
            ...(nextRefreshMs !== undefined ? { nextRefreshMs } : {}),
            serviceAccounts: accountList.items
              .filter((a) => (a.imagePullSecrets ?? []).some((ref) => ref.name === secretName))
              .map((a) => a.metadata?.name ?? ''),
            ...(secret ? { pullSecret: await readPullSecretState(secret, this.options.checkLogin) } : {}),
          };
        }),
      );
      return {
        atMs,
        registries,
        clusterRegistries,
        imports: importList.items.map(importState),
        events: [...eventList.items, ...clusterEventList.items.filter((e) => e.regarding?.kind === CLUSTER_ECR_REGISTRY.kind)].map(eventState).sort((a, b) => b.atMs - a.atMs),
        metrics,
      };
    } catch (error) {
      return { atMs, registries: [], clusterRegistries: [], imports: [], events: [], metrics: undefined, error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Each ClusterEcrRegistry, with its pull secret read (and its login tried) in every namespace that should or does hold it. */
  private async clusterRegistries(): Promise<ClusterRegistryState[]> {
    const list = (await this.custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural })) as { items: ClusterEcrRegistry[] };
    return Promise.all(
      list.items.map(async (registry): Promise<ClusterRegistryState> => {
        const name = registry.metadata.name!;
        const pullSecretName = registry.status?.pullSecretName ?? registry.spec.pullSecret?.name ?? name;
        const selector = registry.spec.namespaceSelector ? labelSelectorText(registry.spec.namespaceSelector) : '';
        const [selectedList, secretList] = await Promise.all([
          selector ? this.core.listNamespace({ labelSelector: selector }) : Promise.resolve({ items: [] }),
          this.core.listSecretForAllNamespaces({ labelSelector: `${CLUSTER_REGISTRY_LABEL}=${name}` }),
        ]);
        const excluded = new Set(registry.spec.excludeNamespaces ?? []);
        const selected = new Set(
          [...selectedList.items.filter((n) => n.metadata?.deletionTimestamp === undefined).map((n) => n.metadata?.name ?? ''), ...(registry.spec.namespaces ?? [])].filter((n) => !excluded.has(n)),
        );
        const secrets = new Map(secretList.items.filter((s) => s.metadata?.name === pullSecretName).map((s) => [s.metadata?.namespace ?? '', s]));
        const namespaces = await Promise.all(
          [...new Set([...selected, ...secrets.keys()])].sort().map(async (namespace): Promise<NamespacePullSecret> => {
            const secret = secrets.get(namespace);
            return { namespace, selected: selected.has(namespace), ...(secret ? { pullSecret: await readPullSecretState(secret, this.options.checkLogin) } : {}) };
          }),
        );
        const status = registry.status;
        const ready = condition(status?.conditions, 'Ready');
        const refreshed = condition(status?.conditions, 'Refreshed');
        const nextRefreshMs = parseTime(status?.nextRefreshTime);
        return {
          name,
          selector,
          ...(ready ? { ready } : {}),
          ...(refreshed ? { refreshed } : {}),
          ...(status?.namespacesSelected !== undefined ? { namespacesSelected: status.namespacesSelected } : {}),
          ...(status?.namespacesReady !== undefined ? { namespacesReady: status.namespacesReady } : {}),
          ...(status?.namespacesFailed !== undefined ? { namespacesFailed: status.namespacesFailed } : {}),
          failedNamespaces: status?.failedNamespaces ?? [],
          pullSecretName,
          ...(nextRefreshMs !== undefined ? { nextRefreshMs } : {}),
          namespaces,
        };
      }),
    );
  }
}

/** A pull secret as a kubelet would use it: its token's times from the operator's annotations, and whether the registry takes its login. */
export async function readPullSecretState(secret: V1Secret, checkLogin: ObserverOptions['checkLogin']): Promise<PullSecretState> {
  const annotations = secret.metadata?.annotations ?? {};
  const issuedAtMs = parseTime(annotations[ANNOTATION_ISSUED_AT]);
  const expiresAtMs = parseTime(annotations[ANNOTATION_EXPIRES_AT]);
  const encoded = secret.data?.[DOCKER_CONFIG_JSON_KEY];
  const auths = encoded ? parseDockerConfigJson(Buffer.from(encoded, 'base64').toString('utf8')) : undefined;
  const hosts = Object.keys(auths ?? {}).sort();
  const first = hosts[0] !== undefined ? auths?.[hosts[0]] : undefined;
  let registryStatus: number | undefined;
  if (first && hosts[0]) {
    registryStatus = await checkLogin(hosts[0], first.username, first.password).catch(() => undefined);
  }
  return {
    name: secret.metadata?.name ?? '',
    ...(issuedAtMs !== undefined ? { issuedAtMs } : {}),
    ...(expiresAtMs !== undefined ? { expiresAtMs } : {}),
    hosts,
    tokenId: createHash('sha256').update(first?.password ?? '').digest('hex').slice(0, 16),
    ...(registryStatus !== undefined ? { registryStatus } : {}),
  };
}

/** metav1.LabelSelector in the `-l` syntax the API server takes. */
export function labelSelectorText(selector: LabelSelector): string {
  const labels = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  const expressions = (selector.matchExpressions ?? []).map((r) => {
    const values = (r.values ?? []).join(',');
    if (r.operator === 'In') return `${r.key} in (${values})`;
    if (r.operator === 'NotIn') return `${r.key} notin (${values})`;
    return r.operator === 'Exists' ? r.key : `!${r.key}`;
  });
  return [...labels, ...expressions].join(',');
}

function importState(item: ImageImport): ImportState {
  const ready = condition(item.status?.conditions, 'Ready');
  const nextImportMs = parseTime(item.status?.nextImportTime);
  const byTag = new Map((item.status?.tags ?? []).map((t) => [t.tag, t]));
  return {
    name: item.metadata.name!,
    repository: item.spec.repository,
    ...(ready ? { ready } : {}),
    ...(item.status?.defaultTag ? { defaultTag: item.status.defaultTag } : {}),
    ...(nextImportMs !== undefined ? { nextImportMs } : {}),
    ...(item.spec.importPolicy?.interval ? { interval: item.spec.importPolicy.interval } : {}),
    tags: (item.spec.tags ?? ['latest']).map((tag): TagState => {
      const status = byTag.get(tag);
      const changedAt = parseTime(status?.digestChangedAt);
      const resolved = condition(status?.conditions, 'Resolved');
      return {
        tag,
        ...(status?.digest ? { digest: status.digest } : {}),
        ...(status?.image ? { image: status.image } : {}),
        platforms: (status?.platforms ?? []).map((p) => [p.os, p.architecture, p.variant].filter(Boolean).join('/')),
        ...(status?.pullable !== undefined ? { pullable: status.pullable } : {}),
        ...(changedAt !== undefined ? { digestChangedAtMs: changedAt } : {}),
        ...(resolved ? { resolved } : {}),
      };
    }),
  };
}

interface EventLike {
  metadata?: { uid?: string; creationTimestamp?: Date | string };
  eventTime?: Date | string;
  series?: { lastObservedTime?: Date | string; count?: number };
  deprecatedLastTimestamp?: Date | string;
  type?: string;
  reason?: string;
  note?: string;
  regarding?: { kind?: string; name?: string };
}

function eventState(event: EventLike): EventState {
  const atMs =
    parseTime(event.series?.lastObservedTime) ??
    parseTime(event.deprecatedLastTimestamp) ??
    parseTime(event.eventTime) ??
    parseTime(event.metadata?.creationTimestamp) ??
    0;
  return {
    uid: event.metadata?.uid ?? '',
    atMs,
    type: event.type ?? '',
    reason: event.reason ?? '',
    regarding: `${(event.regarding?.kind ?? '').toLowerCase()}/${event.regarding?.name ?? ''}`,
    note: event.note ?? '',
    count: event.series?.count ?? 1,
  };
}

/** Reads the two series the view shows from the operator's Prometheus text output. */
export async function scrapeMetrics(url: string): Promise<MetricsState | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    const text = await response.text();
    return response.ok ? parseMetrics(text) : undefined;
  } catch {
    return undefined;
  }
}

export function parseMetrics(text: string): MetricsState {
  const tokenExpirySeconds = new Map<string, number>();
  const ecrCalls = new Map<string, number>();
  let ecrErrors = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const [, name, labelText, valueText] = match;
    const value = Number(valueText);
    const labels = new Map<string, string>();
    for (const label of (labelText ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels.set(label[1]!, label[2]!);
    if (name === 'ecr_operator_token_expiry_seconds') tokenExpirySeconds.set(labels.get('name') ?? '', value);
    if (name === 'ecr_operator_ecr_api_calls_total') {
      const action = labels.get('action') ?? '';
      ecrCalls.set(action, (ecrCalls.get(action) ?? 0) + value);
      if (labels.get('outcome') === 'error') ecrErrors += value;
    }
  }
  return { tokenExpirySeconds, ecrCalls, ecrErrors };
}

function condition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

function parseTime(value: Date | string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
