import fs from 'node:fs/promises';
import path from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  CustomObjectsApi,
  type KubeConfig,
  loadYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { dump, loadAll } from 'js-yaml';
import { eventually } from '../eventually.ts';
import { apiStatusCode, describeApiError } from './api-errors.ts';

/**
 * Creates (or replaces) every CustomResourceDefinition in the YAML files of `dir`, multi-document
 * files included, and waits until each is served (see waitUntilServed). A missing folder installs
 * nothing. Returns the CRDs as sent.
 */
export async function installCrds(
  kubeConfig: KubeConfig,
  dir: string,
  timeoutMs = 30_000,
): Promise<V1CustomResourceDefinition[]> {
  const crds = await readCrds(dir);
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const crd of crds) await createOrReplace(api, crd);
  await waitUntilServed(kubeConfig, crds, timeoutMs);
  return crds;
}

/**
 * Waits until each CRD is Established, listed by discovery, answers a LIST and has taken a
 * (dry-run) write. Right after establishing, or an apiserver restart, a LIST gets 429 "storage is
 * (re)initializing" for about a second, which client-node does not retry: tests would flake.
 */
export async function waitUntilServed(
  kubeConfig: KubeConfig,
  crds: V1CustomResourceDefinition[],
  timeoutMs = 30_000,
): Promise<void> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
  await Promise.all(crds.map((crd) => waitUntilOneServed(api, customObjects, crd, timeoutMs)));
}

export async function readCrds(dir: string): Promise<V1CustomResourceDefinition[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const crds: V1CustomResourceDefinition[] = [];
  for (const name of names.filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const file = path.join(dir, name);
    for (const document of loadAll(await fs.readFile(file, 'utf8'))) {
      if (document === null || document === undefined) continue;
      crds.push(asCrd(document, file));
    }
  }
  return crds;
}

function asCrd(document: unknown, file: string): V1CustomResourceDefinition {
  if (typeof document !== 'object' || document === null) throw new Error(`${file}: a document is not a mapping`);
  const object = document as { kind?: unknown; metadata?: { name?: unknown } };
  if (object.kind !== 'CustomResourceDefinition' || typeof object.metadata?.name !== 'string') {
    throw new Error(`${file}: expected only CustomResourceDefinitions, found kind ${String(object.kind)}`);
  }
  // The typed client serializes by its own field names (xKubernetesValidations) and silently drops
  // the wire names a YAML file uses (x-kubernetes-validations), so convert through its deserializer.
  return loadYaml<V1CustomResourceDefinition>(dump(document));
}

async function createOrReplace(api: ApiextensionsV1Api, crd: V1CustomResourceDefinition): Promise<void> {
  const name = crd.metadata?.name ?? '';
  try {
    await api.createCustomResourceDefinition({ body: crd });
  } catch (error) {
    if (!(error instanceof ApiException) || error.code !== 409) {
      throw new Error(`creating CRD ${name} failed: ${describeApiError(error)}`, { cause: error });
    }
    const current = await api.readCustomResourceDefinition({ name });
    const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: current.metadata?.resourceVersion } };
    await api.replaceCustomResourceDefinition({ name, body });
  }
}

async function waitUntilOneServed(
  api: ApiextensionsV1Api,
  customObjects: CustomObjectsApi,
  crd: V1CustomResourceDefinition,
  timeoutMs: number,
): Promise<void> {
  const name = crd.metadata?.name ?? '';
  await eventually(
    async () => {
      const current = await api.readCustomResourceDefinition({ name });
      const established = current.status?.conditions?.find((c) => c.type === 'Established');
      if (established?.status !== 'True') throw new Error(`CRD ${name} is not Established yet`);
      // Established can precede the handler showing up in discovery; clients that discover need both.
      for (const version of crd.spec.versions.filter((v) => v.served)) {
        const list = await customObjects.getAPIResources({ group: crd.spec.group, version: version.name });
        if (!list.resources.some((r) => r.name === crd.spec.names.plural)) {
          throw new Error(`${crd.spec.names.plural}.${crd.spec.group}/${version.name} is not in discovery yet`);
        }
        // Lists every namespace for a namespaced resource too.
        await customObjects.listClusterCustomObject({
          group: crd.spec.group,
          version: version.name,
          plural: crd.spec.names.plural,
        });
      }
      await warmUpWrites(customObjects, crd);
    },
    { timeoutMs, message: `CRD ${name} did not become Established and served` },
  );
}

/**
 * The first write of a newly established resource stalls about 2 s inside the apiserver (later
 * ones take milliseconds). A dry-run create pays that here, once, rather than in whichever test
 * writes first and times its operator. Schema rejections (4xx) still count as warmed up.
 */
async function warmUpWrites(customObjects: CustomObjectsApi, crd: V1CustomResourceDefinition): Promise<void> {
  const version = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
  if (version === undefined) return;
  const target = { group: crd.spec.group, version: version.name, plural: crd.spec.names.plural };
  const body = {
    apiVersion: `${crd.spec.group}/${version.name}`,
    kind: crd.spec.names.kind,
    metadata: { name: 'harness-warm-up' },
  };
  try {
    if (crd.spec.scope === 'Namespaced') {
      await customObjects.createNamespacedCustomObject({ ...target, namespace: 'default', body, dryRun: 'All' });
    } else {
      await customObjects.createClusterCustomObject({ ...target, body, dryRun: 'All' });
    }
  } catch (error) {
    const code = apiStatusCode(error);
    // 404 (not routed yet, or no default namespace yet) and 429 (storage initializing) mean: try again.
    if (code === undefined || code === 404 || code === 429 || code >= 500) throw error;
  }
}
