import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { loadAll } from 'js-yaml';
import { testEnv } from '../../support/env.ts';
import { helm, type HelmOptions, type HelmResult } from '../../support/helm.ts';
import { kubectlOk, REPOSITORY_ROOT } from './shipped-install.ts';

/** The chart and the release name README.md's "Install with Helm" uses. */
export const CHART_DIR = path.join(REPOSITORY_ROOT, 'deploy', 'chart');
export const RELEASE = 'ecr-pullsecrets-operator';

/** Runs helm (built from Go modules, test/support/helm.ts) against the test apiserver; fails with its output unless it exits 0. */
export async function helmOk(args: readonly string[], options: HelmOptions = {}): Promise<HelmResult> {
  const result = await helm([...args, '--kubeconfig', testEnv().kubeconfigPath], options);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  return result;
}

/**
 * README.md's install, into a fresh namespace `<prefix>-<random>`: create it and label it for the
 * `restricted` Pod Security level, then `helm install ecr-pullsecrets-operator deploy/chart` with
 * `values` as a values file (`-f -`). Returns the namespace and helm's output.
 */
export async function installChart(prefix: string, values: Record<string, unknown>): Promise<{ namespace: string; install: HelmResult }> {
  const namespace = `${prefix}-${randomBytes(4).toString('hex')}`;
  await kubectlOk(['create', 'namespace', namespace]);
  await kubectlOk(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/warn=restricted']);
  const install = await helmOk(['install', RELEASE, CHART_DIR, '--namespace', namespace, '-f', '-'], { stdin: JSON.stringify(values) });
  return { namespace, install };
}

/** The release's objects as Helm applied them (`helm get manifest`). */
export async function releaseObjects(namespace: string): Promise<KubernetesObject[]> {
  const manifest = await helmOk(['get', 'manifest', RELEASE, '--namespace', namespace]);
  return (loadAll(manifest.stdout) as Array<KubernetesObject | null>).filter((o): o is KubernetesObject => o !== null && o !== undefined);
}

/** `kind namespace/name` of an object, for messages and comparisons. */
export function objectKey(object: KubernetesObject): string {
  return `${object.kind} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata?.name}`;
}

/** Which of `objects` the API server still holds (read with kubectl get, as the admin). */
export async function objectsStillThere(objects: readonly KubernetesObject[]): Promise<string[]> {
  const there: string[] = [];
  for (const object of objects) {
    const group = object.apiVersion?.includes('/') ? `.${object.apiVersion.split('/')[0]}` : '';
    const args = ['get', `${object.kind}${group}`, object.metadata!.name!];
    if (object.metadata?.namespace) args.push('--namespace', object.metadata.namespace);
    const result = await testEnv().kubectl([...args, '--ignore-not-found', '-o', 'name']);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
    if (result.stdout.trim() !== '') there.push(objectKey(object));
  }
  return there;
}
