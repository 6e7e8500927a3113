import fs from 'node:fs/promises';
import path from 'node:path';
import { dump, loadAll } from 'js-yaml';
import type { ClusterEcrRegistry } from '../../src/api/cluster-ecr-registry.ts';
import { DEFAULT_ACCESS_KEY_ID_KEY, DEFAULT_SECRET_ACCESS_KEY_KEY, type EcrRegistry } from '../../src/api/ecr-registry.ts';
import { CLUSTER_ECR_REGISTRY, ECR_REGISTRY, GROUP_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import { parseRegistryHost } from '../../src/aws/registry-host.ts';

/**
 * deploy/samples as a user would apply them, rewritten in memory (never on disk) for the demo's
 * ECR emulator: real keys in the Secret, the emulator as the registry's endpoint, and a short import
 * interval. Everything else, names and the registry host included, is exactly what the files say.
 */

export const SAMPLES_DIR = path.resolve(import.meta.dirname, '../../deploy/samples');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export interface SampleObject {
  /** File under deploy/samples it came from. */
  file: string;
  object: KubeObject;
}

/** What the demo must set up in the emulator so the samples work as written. */
export interface SampleTarget {
  registry: EcrRegistry;
  accountId: string;
  region: string;
  imageImport: ImageImport;
  repository: string;
  tags: string[];
  credentialsSecret: string;
}

export interface EmulatorWiring {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  importInterval: string;
}

/** The objects of deploy/samples, in the order its kustomization.yaml lists the files. */
export async function loadSamples(dir = SAMPLES_DIR): Promise<SampleObject[]> {
  const kustomization = asRecord(loadAll(await fs.readFile(path.join(dir, 'kustomization.yaml'), 'utf8'))[0]);
  const resources = kustomization?.resources;
  if (!Array.isArray(resources) || resources.length === 0) throw new Error(`${dir}/kustomization.yaml lists no resources`);
  const objects: SampleObject[] = [];
  for (const file of resources) {
    if (typeof file !== 'string') throw new Error(`${dir}/kustomization.yaml: resource ${JSON.stringify(file)} is not a file name`);
    for (const document of loadAll(await fs.readFile(path.join(dir, file), 'utf8'))) {
      if (document === null || document === undefined) continue;
      objects.push({ file, object: asKubeObject(document, file) });
    }
  }
  return objects;
}

/** The first EcrRegistry, the ImageImport that uses it, and the account, region and repository they name. */
export function sampleTarget(samples: readonly SampleObject[]): SampleTarget {
  const registry = samples.find((s) => s.object.kind === ECR_REGISTRY.kind)?.object as unknown as EcrRegistry | undefined;
  if (!registry) throw new Error('deploy/samples holds no EcrRegistry');
  const host = parseRegistryHost(registry.spec.registry);
  if (!host) throw new Error(`EcrRegistry ${registry.metadata.name}: ${registry.spec.registry} is not an ECR registry host`);
  const imageImport = samples.find(
    (s) => s.object.kind === IMAGE_IMPORT.kind && (s.object as unknown as ImageImport).spec.registryRef.name === registry.metadata.name,
  )?.object as unknown as ImageImport | undefined;
  if (!imageImport) throw new Error(`deploy/samples holds no ImageImport that uses EcrRegistry ${registry.metadata.name}`);
  // The emulator knows access keys only: a sample that authenticates otherwise cannot be run here.
  const secretRef = registry.spec.credentials.secretRef;
  if (!secretRef) throw new Error(`EcrRegistry ${registry.metadata.name}: the demo needs spec.credentials.secretRef (AWS keys in a Secret)`);
  return {
    registry,
    accountId: host.accountId,
    region: host.region,
    imageImport,
    repository: imageImport.spec.repository,
    tags: imageImport.spec.tags ?? ['latest'],
    credentialsSecret: secretRef.name,
  };
}

/** The samples as the demo applies them, and one line per change made, to show the user. */
export function wireSamplesToEmulator(samples: readonly SampleObject[], wiring: EmulatorWiring): { objects: KubeObject[]; changes: string[] } {
  const objects = samples.map((s) => structuredClone(s.object));
  const changes: string[] = [];
  const registries = objects.filter((o) => o.kind === ECR_REGISTRY.kind) as unknown as EcrRegistry[];
  for (const registry of registries) {
    registry.spec.endpoint = wiring.endpoint;
    changes.push(`EcrRegistry ${registry.metadata.name}: spec.endpoint = ${wiring.endpoint} (the ECR emulator, allowlisted with --allowed-endpoints)`);
    const ref = registry.spec.credentials.secretRef;
    const secret = ref && objects.find((o) => o.kind === 'Secret' && o.metadata.name === ref.name);
    if (!ref || !secret) continue;
    const stringData = { ...(asRecord(secret.stringData) ?? {}) };
    stringData[ref.accessKeyIDKey ?? DEFAULT_ACCESS_KEY_ID_KEY] = wiring.accessKeyId;
    stringData[ref.secretAccessKeyKey ?? DEFAULT_SECRET_ACCESS_KEY_KEY] = wiring.secretAccessKey;
    secret.stringData = stringData;
    changes.push(`Secret ${ref.name}: the placeholders replaced with an access key the emulator knows`);
  }
  for (const imageImport of objects.filter((o) => o.kind === IMAGE_IMPORT.kind) as unknown as ImageImport[]) {
    const before = imageImport.spec.importPolicy?.interval ?? '1h';
    imageImport.spec.importPolicy = { ...imageImport.spec.importPolicy, interval: wiring.importInterval };
    changes.push(`ImageImport ${imageImport.metadata.name}: importPolicy.interval ${before} -> ${wiring.importInterval}, so tag moves show up quickly`);
  }
  return { objects, changes };
}

/**
 * The demo's ClusterEcrRegistry, which deploy/samples does not hold: one pull secret, with one token,
 * in every namespace labelled `ecr.demo/pull: "true"`. Its keys live in a namespace no team reads.
 */
export const CLUSTER_SAMPLE = {
  name: 'ecr-shared',
  labelKey: 'ecr.demo/pull',
  labelValue: 'true',
  credentialsSecret: 'ecr-shared-credentials',
  /** Labelled and applied together with the ClusterEcrRegistry. */
  firstNamespace: 'team-a',
  /** Created later, while the demo watches, to show a new namespace being served. */
  liveNamespace: 'team-b',
} as const;

export interface ClusterSampleWiring {
  /** The ECR registry host, the same as the EcrRegistry sample's. */
  registry: string;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Where the credentials Secret goes. */
  credentialsNamespace: string;
}

/** A Namespace carrying the label the demo's ClusterEcrRegistry selects. */
export function labelledNamespace(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [CLUSTER_SAMPLE.labelKey]: CLUSTER_SAMPLE.labelValue } } };
}

/** The credentials Secret, the first labelled namespace and the ClusterEcrRegistry, for one `kubectl apply`. */
export function clusterRegistrySample(wiring: ClusterSampleWiring): KubeObject[] {
  const secret: KubeObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: CLUSTER_SAMPLE.credentialsSecret, namespace: wiring.credentialsNamespace },
    type: 'Opaque',
    stringData: { [DEFAULT_ACCESS_KEY_ID_KEY]: wiring.accessKeyId, [DEFAULT_SECRET_ACCESS_KEY_KEY]: wiring.secretAccessKey },
  };
  const registry: ClusterEcrRegistry = {
    apiVersion: GROUP_VERSION,
    kind: CLUSTER_ECR_REGISTRY.kind,
    metadata: { name: CLUSTER_SAMPLE.name },
    spec: {
      registry: wiring.registry,
      endpoint: wiring.endpoint,
      credentials: { secretRef: { namespace: wiring.credentialsNamespace, name: CLUSTER_SAMPLE.credentialsSecret } },
      namespaceSelector: { matchLabels: { [CLUSTER_SAMPLE.labelKey]: CLUSTER_SAMPLE.labelValue } },
    },
  };
  return [secret, labelledNamespace(CLUSTER_SAMPLE.firstNamespace), registry as unknown as KubeObject];
}

/** Multi-document YAML for `kubectl apply -f -`. */
export function toYamlStream(objects: readonly KubeObject[]): string {
  return objects.map((o) => dump(o, { lineWidth: -1, noRefs: true })).join('---\n');
}

function asKubeObject(document: unknown, file: string): KubeObject {
  const record = asRecord(document);
  const metadata = asRecord(record?.metadata);
  if (!record || typeof record.apiVersion !== 'string' || typeof record.kind !== 'string' || typeof metadata?.name !== 'string') {
    throw new Error(`deploy/samples/${file}: a document without apiVersion, kind and metadata.name`);
  }
  return record as KubeObject;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
