import { CoreV1Api, CustomObjectsApi, type V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistry, EcrRegistrySpec } from '../../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, ECR_REGISTRY, GROUP_VERSION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../../src/api/group.ts';
import type { AccessKey, EcrEmulator } from '../../support/ecr-emulator/index.ts';
import { testEnv } from '../../support/env.ts';
import { eventually } from '../../support/eventually.ts';

/**
 * Fleets of EcrRegistries for the reliability campaign (issue 14): registries spread over the test's
 * own namespaces, a credentials Secret (an access key of its own, so a credential set of its own) per
 * group of registries, and the readings the faults are judged by: which token each pull secret holds
 * now, and whether the emulator says it has expired.
 */
export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;

export interface FleetRegistry {
  namespace: string;
  name: string;
  /** The credential set's access key (its id names the set in the emulator's counters). */
  key: AccessKey;
}

export interface Fleet {
  namespaces: string[];
  registries: FleetRegistry[];
  /** Access keys, one per credential set. */
  keys: AccessKey[];
}

export interface FleetShape {
  namespaces: readonly string[];
  registries: number;
  /** Registries sharing one credentials Secret (in one namespace); default 1. */
  perCredentials?: number;
  /** spec.endpoint; default the emulator's URL. */
  endpoint?: string;
  /** Name prefix, so two fleets can share namespaces; default `reg`. */
  prefix?: string;
  concurrency?: number;
}

const registryPath = (namespace: string) => ({ group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, namespace });

function clients() {
  const kc = testEnv().kubeConfig();
  return { core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Registry i goes to namespace i mod n; each group of `perCredentials` registries of a namespace shares a key. */
export async function createFleet(emulator: EcrEmulator, shape: FleetShape): Promise<Fleet> {
  const { core, custom } = clients();
  const prefix = shape.prefix ?? 'reg';
  const perCredentials = shape.perCredentials ?? 1;
  const byNamespace = new Map<string, string[]>(shape.namespaces.map((ns) => [ns, []]));
  for (let i = 0; i < shape.registries; i++) byNamespace.get(shape.namespaces[i % shape.namespaces.length]!)!.push(`${prefix}-${i}`);
  const groups: Array<{ namespace: string; secret: string; names: string[] }> = [];
  for (const [namespace, names] of byNamespace) {
    for (let g = 0; g * perCredentials < names.length; g++) {
      groups.push({ namespace, secret: `${prefix}-creds-${g}`, names: names.slice(g * perCredentials, (g + 1) * perCredentials) });
    }
  }
  const registries: FleetRegistry[] = [];
  const keys: AccessKey[] = [];
  await inPool(groups, shape.concurrency ?? 16, async (group) => {
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    keys.push(key);
    await core.createNamespacedSecret({
      namespace: group.namespace,
      body: { metadata: { name: group.secret }, stringData: { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey } },
    });
    for (const name of group.names) {
      const spec: EcrRegistrySpec = { registry: HOST, endpoint: shape.endpoint ?? emulator.url, credentials: { secretRef: { name: group.secret } } };
      await custom.createNamespacedCustomObject({
        ...registryPath(group.namespace),
        body: { apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, metadata: { name, namespace: group.namespace }, spec },
      });
      registries.push({ namespace: group.namespace, name, key });
    }
  });
  return { namespaces: [...shape.namespaces], registries, keys };
}

export const registryKey = (r: { namespace: string; name: string }) => `${r.namespace}/${r.name}`;

export async function listRegistries(namespaces: readonly string[]): Promise<EcrRegistry[]> {
  const { custom } = clients();
  const lists = await Promise.all(namespaces.map((ns) => custom.listNamespacedCustomObject(registryPath(ns)) as Promise<{ items: EcrRegistry[] }>));
  return lists.flatMap((list) => list.items);
}

export function conditionOf(registry: EcrRegistry, type: string) {
  return registry.status?.conditions?.find((c) => c.type === type);
}

/** Waits until every registry of the fleet is Ready=True for its generation, and returns them. */
export async function waitForFleetReady(fleet: Fleet, timeoutMs: number): Promise<EcrRegistry[]> {
  return eventually(
    async () => {
      const mine = new Set(fleet.registries.map(registryKey));
      const items = (await listRegistries(fleet.namespaces)).filter((r) => mine.has(`${r.metadata.namespace}/${r.metadata.name}`));
      const ready = items.filter((r) => conditionOf(r, 'Ready')?.status === 'True' && r.status?.observedGeneration === r.metadata.generation);
      expect(ready.length, `Ready registries (e.g. ${JSON.stringify(items.find((r) => !ready.includes(r))?.status?.conditions)})`).to.equal(fleet.registries.length);
      return items;
    },
    { timeoutMs, intervalMs: 250, message: `all ${fleet.registries.length} registries Ready` },
  );
}

/** The managed pull secrets of the namespaces (label-selected, as the operator sees them). */
export async function listPullSecrets(namespaces: readonly string[]): Promise<V1Secret[]> {
  const { core } = clients();
  const lists = await Promise.all(namespaces.map((namespace) => core.listNamespacedSecret({ namespace, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` })));
  return lists.flatMap((list) => list.items);
}

/** The registry password a pull secret holds for HOST; undefined when the data does not parse or has no such entry. */
export function heldPassword(secret: V1Secret): string | undefined {
  const data = secret.data?.['.dockerconfigjson'];
  if (!data) return undefined;
  try {
    const config = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { auths?: Record<string, { password?: unknown }> };
    const password = config.auths?.[HOST]?.password;
    return typeof password === 'string' ? password : undefined;
  } catch {
    return undefined;
  }
}

/** What one look at every pull secret found. */
export interface SecretSample {
  atMs: number;
  /** registry key → the password its pull secret holds (by owner reference). */
  passwords: Map<string, string>;
  /** Registries whose pull secret holds a token past its expiry by the emulator's clock. */
  expired: string[];
  /** Pull secrets whose token the emulator never issued, or that hold no parsable token. */
  invalid: string[];
  /** Managed Secrets with no owning registry in the fleet, or a second Secret for one registry. */
  orphaned: string[];
  duplicated: string[];
}

/** Reads every pull secret of the fleet once and judges each token by the emulator's clock. */
export async function samplePullSecrets(fleet: Fleet, emulator: EcrEmulator): Promise<SecretSample> {
  const secrets = await listPullSecrets(fleet.namespaces);
  const atMs = emulator.clock.now();
  const known = new Set(fleet.registries.map(registryKey));
  const sample: SecretSample = { atMs, passwords: new Map(), expired: [], invalid: [], orphaned: [], duplicated: [] };
  for (const secret of secrets) {
    const namespace = secret.metadata?.namespace ?? '';
    const owner = secret.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === ECR_REGISTRY.kind)?.name;
    const key = owner ? `${namespace}/${owner}` : `${namespace}/(no owner: ${secret.metadata?.name})`;
    if (!owner || !known.has(key)) {
      sample.orphaned.push(`${namespace}/${secret.metadata?.name}`);
      continue;
    }
    if (sample.passwords.has(key)) {
      sample.duplicated.push(`${namespace}/${secret.metadata?.name}`);
      continue;
    }
    const password = heldPassword(secret);
    const info = password === undefined ? undefined : emulator.tokenInfo(password);
    if (password === undefined || !info) {
      sample.invalid.push(key);
      continue;
    }
    sample.passwords.set(key, password);
    if (info.expiresAt.getTime() <= atMs) sample.expired.push(key);
  }
  return sample;
}

/**
 * Deletes the registries left in the namespaces once the test's operator has stopped: finalizers
 * removed first, so none lingers (Terminating) for another test's operator to find.
 */
export async function abandonFleet(namespaces: readonly string[]): Promise<void> {
  const { custom } = clients();
  const left = await listRegistries(namespaces).catch(() => []);
  await inPool(left, 16, async (registry) => {
    const path = { ...registryPath(registry.metadata.namespace!), name: registry.metadata.name! };
    await custom.patchNamespacedCustomObject({ ...path, body: [{ op: 'replace', path: '/metadata/finalizers', value: [] }] }).catch(() => undefined);
    await custom.deleteNamespacedCustomObject(path).catch(() => undefined);
  });
}
