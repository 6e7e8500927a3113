import fs from 'node:fs/promises';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, type KubernetesObject, type V1Container, type V1PodSpec } from '@kubernetes/client-node';
import { load, loadAll } from 'js-yaml';
import type { ClusterEcrRegistry } from '../../../src/api/cluster-ecr-registry.ts';
import type { EcrRegistry } from '../../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY } from '../../../src/api/group.ts';
import type { ImageImport } from '../../../src/api/image-import.ts';
import { parseRegistryHost } from '../../../src/aws/registry-host.ts';
import type { KubectlResult } from '../../support/controlplane/index.ts';
import { testEnv } from '../../support/env.ts';

/** What deploy/ installs, as a user would refer to it. */
export const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../../..');
export const OPERATOR_NAMESPACE = 'ecr-pullsecrets-system';
export const OPERATOR_SERVICE_ACCOUNT = 'ecr-pullsecrets-operator';
export const OPERATOR_DEPLOYMENT = 'ecr-pullsecrets-operator';
export const LEASE_NAME = 'ecr-pullsecrets-operator';
export const SAMPLES_DIR = path.join(REPOSITORY_ROOT, 'deploy', 'samples');

/** Runs the real kubectl as the admin and fails with its output unless it exits 0. */
export async function kubectlOk(args: string[], options: { kubeconfig?: string; stdin?: string } = {}): Promise<KubectlResult> {
  const result = await testEnv().kubectl(args, options);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  return result;
}

/**
 * The README's install, as the cluster admin: `kubectl apply --server-side -f crds/` (the harness
 * created them already; this must agree) and `kubectl apply -k deploy/`. Returns kubectl's output,
 * in which any warning (a Pod Security violation, a deprecated API) is a defect.
 */
export async function installShippedManifests(): Promise<{ crds: KubectlResult; deploy: KubectlResult }> {
  const crds = await kubectlOk(['apply', '--server-side', '-f', path.join(REPOSITORY_ROOT, 'crds')]);
  const deploy = await kubectlOk(['apply', '-k', path.join(REPOSITORY_ROOT, 'deploy')]);
  return { crds, deploy };
}

/**
 * The operator's pod template and its one container, as the API server stored the Deployment (of
 * deploy/, or of a chart installed into `namespace`), and how many replicas it asks for.
 */
export async function deployedOperator(namespace = OPERATOR_NAMESPACE): Promise<{ pod: V1PodSpec; container: V1Container; replicas: number }> {
  const apps = testEnv().kubeConfig().makeApiClient(AppsV1Api);
  const deployment = await apps.readNamespacedDeployment({ namespace, name: OPERATOR_DEPLOYMENT });
  const pod = deployment.spec?.template.spec;
  if (pod?.containers.length !== 1) throw new Error(`expected one container in the Deployment, found ${pod?.containers.length ?? 0}`);
  return { pod, container: pod.containers[0]!, replicas: deployment.spec?.replicas ?? 1 };
}

/**
 * Deletes what `kubectl apply -k deploy/` made cluster-wide (the ClusterRole, its binding, the guardrail
 * policy and its binding), so the Helm chart, which names them the same, can be installed beside an
 * earlier test's deploy/. Its Namespace and namespaced objects stay; the next installShippedManifests()
 * brings the rest back.
 */
export async function removeShippedClusterObjects(): Promise<void> {
  const rendered = loadAll((await kubectlOk(['kustomize', path.join(REPOSITORY_ROOT, 'deploy')])).stdout) as KubernetesObject[];
  const clusterWide = rendered.filter((o) => o && o.kind !== 'Namespace' && o.metadata?.namespace === undefined);
  if (clusterWide.length === 0) throw new Error('deploy/ renders no cluster-scoped object: nothing to remove');
  await kubectlOk(['delete', '--ignore-not-found', '--wait=true', '-f', '-'], { stdin: clusterWide.map((o) => JSON.stringify(o)).join('\n') });
}

/**
 * The container's `args` with some flags replaced: two replicas on one host cannot both bind :8080,
 * and the test's ECR stand-in must be allowed. Flags the Deployment does not set are appended.
 */
export function withFlags(args: readonly string[], flags: Record<string, string>): string[] {
  const remaining = new Map(Object.entries(flags));
  const result = args.map((arg) => {
    const name = /^--([^=]+)(=|$)/.exec(arg)?.[1];
    if (name === undefined) throw new Error(`the Deployment's args must be --name=value flags, got ${arg}`);
    const value = remaining.get(name);
    if (value === undefined) return arg;
    remaining.delete(name);
    return `--${name}=${value}`;
  });
  for (const [name, value] of remaining) result.push(`--${name}=${value}`);
  return result;
}

/** The container's `env` as the kubelet would fill it for a pod named `podName` in `namespace`: values and the downward API. */
export function containerEnv(container: V1Container, podName: string, namespace = OPERATOR_NAMESPACE): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[variable.name] = podName;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[variable.name] = namespace;
    else throw new Error(`cannot reproduce env ${variable.name} of the Deployment outside a kubelet`);
  }
  return env;
}

/** What the samples in deploy/samples ask for, so the ECR emulator can be given exactly that. */
export interface SamplesInfo {
  namespace?: string;
  registry: EcrRegistry;
  imageImport: ImageImport;
  accountId: string;
  region: string;
  host: string;
  credentialsSecret: string;
  serviceAccounts: string[];
}

export async function readSamples(): Promise<SamplesInfo> {
  const registry = load(await fs.readFile(path.join(SAMPLES_DIR, 'ecrregistry.yaml'), 'utf8')) as EcrRegistry;
  const imageImport = load(await fs.readFile(path.join(SAMPLES_DIR, 'imageimport.yaml'), 'utf8')) as ImageImport;
  const host = parseRegistryHost(registry.spec.registry);
  if (!host) throw new Error(`the sample EcrRegistry's registry ${registry.spec.registry} is not an ECR host`);
  return {
    registry,
    imageImport,
    accountId: host.accountId,
    region: host.region,
    host: host.host,
    credentialsSecret: registry.spec.credentials.secretRef!.name,
    serviceAccounts: (registry.spec.pullSecret?.serviceAccounts ?? []).map((ref) => ref.name),
  };
}

/**
 * A kustomize overlay of deploy/samples, unchanged but for what only a real AWS account has: the
 * access key in the credentials Secret (the sample holds placeholders), and the ECR endpoint, here
 * the emulator (spec.endpoint, which the operator accepts only because --allowed-endpoints names it).
 * Returns the overlay's folder, for `kubectl apply -k`.
 */
export async function writeSamplesOverlay(
  dir: string,
  samples: SamplesInfo,
  settings: { namespace: string; accessKeyId: string; secretAccessKey: string; endpoint: string },
): Promise<string> {
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    namespace: settings.namespace,
    // kustomize accepts a base outside the overlay's folder, but only by a relative path.
    resources: [path.relative(dir, SAMPLES_DIR)],
    patches: [
      {
        target: { kind: 'Secret', name: samples.credentialsSecret },
        patch: JSON.stringify([
          { op: 'replace', path: '/stringData/AWS_ACCESS_KEY_ID', value: settings.accessKeyId },
          { op: 'replace', path: '/stringData/AWS_SECRET_ACCESS_KEY', value: settings.secretAccessKey },
        ]),
      },
      {
        target: { kind: 'EcrRegistry', name: samples.registry.metadata.name },
        patch: JSON.stringify([{ op: 'add', path: '/spec/endpoint', value: settings.endpoint }]),
      },
    ],
  };
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'kustomization.yaml'), JSON.stringify(kustomization, null, 2));
  return dir;
}

/**
 * Binds the sample pull secret to two more ServiceAccounts, for runs that must make every API call:
 * `app-2`, created first (the operator reads it before its watch has it: a get, then a patch), and
 * `not-created`, which does not exist, so the operator's Warning about it repeats at every refresh
 * and becomes an Event series (a patch of the Event).
 */
export async function bindMoreServiceAccounts(namespace: string, samples: SamplesInfo): Promise<void> {
  await testEnv().kubeConfig().makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app-2' } } });
  const serviceAccounts = [...samples.serviceAccounts, 'app-2', 'not-created'].map((name) => ({ name }));
  await kubectlOk(['patch', 'ecrregistry', samples.registry.metadata.name!, '-n', namespace, '--type=merge', '-p', JSON.stringify({ spec: { pullSecret: { serviceAccounts } } })]);
}

/** A ClusterEcrRegistry for the samples' registry host, with the sample credentials Secret in `credentialsNamespace`. */
export function sampleClusterRegistry(
  samples: SamplesInfo,
  settings: { name: string; credentialsNamespace: string; endpoint: string; namespaces: string[]; pullSecretName: string; serviceAccounts: string[] },
): ClusterEcrRegistry {
  return {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: CLUSTER_ECR_REGISTRY.kind,
    metadata: { name: settings.name },
    spec: {
      registry: samples.host,
      endpoint: settings.endpoint,
      credentials: { secretRef: { namespace: settings.credentialsNamespace, name: samples.credentialsSecret } },
      pullSecret: { name: settings.pullSecretName, serviceAccounts: settings.serviceAccounts.map((name) => ({ name })) },
      namespaces: settings.namespaces,
    },
  };
}
