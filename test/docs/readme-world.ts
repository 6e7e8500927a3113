import { DEFAULT_ACCESS_KEY_ID_KEY, DEFAULT_SECRET_ACCESS_KEY_KEY, type EcrRegistry } from '../../src/api/ecr-registry.ts';
import { CLUSTER_ECR_REGISTRY, ECR_REGISTRY, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import { parseRegistryHost } from '../../src/aws/registry-host.ts';
import type { EcrEmulator } from '../support/ecr-emulator/index.ts';

/** A Kubernetes object as written in a README snippet. */
export interface SnippetObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

/**
 * Sets up the ECR emulator as the README's reader has AWS set up: the access key of its Secret in the
 * account of its first EcrRegistry, the roles its registries assume, read access to the other accounts
 * they name, and every repository and tag its ImageImports import. Taken from the snippets themselves,
 * so editing the README cannot leave the test world behind.
 */
export function buildReadmeWorld(emulator: EcrEmulator, objects: readonly SnippetObject[], issuer: string): string[] {
  const notes: string[] = [];
  // ClusterEcrRegistries use the same fields (hosts, role); the first EcrRegistry names the account.
  const registries = objects.filter((o) => o.kind === ECR_REGISTRY.kind || o.kind === CLUSTER_ECR_REGISTRY.kind) as unknown as EcrRegistry[];
  const first = registries[0] && parseRegistryHost(registries[0].spec.registry);
  if (!first) throw new Error('the README has no EcrRegistry with a valid registry host');

  for (const secret of objects.filter((o) => o.kind === 'Secret')) {
    const data = (secret.stringData ?? {}) as Record<string, string>;
    const accessKeyId = data[DEFAULT_ACCESS_KEY_ID_KEY];
    const secretAccessKey = data[DEFAULT_SECRET_ACCESS_KEY_KEY];
    if (!accessKeyId || !secretAccessKey) continue;
    emulator.addAccessKey({ accountId: first.accountId, accessKeyId, secretAccessKey, userName: 'ecr-pullsecrets' });
    notes.push(`access key ${accessKeyId} of Secret ${secret.metadata.name} in account ${first.accountId}`);
  }

  emulator.addOidcProvider({ issuer, audiences: ['sts.amazonaws.com'] });
  for (const registry of registries) {
    const { roleArn, externalId, serviceAccountRef } = registry.spec.credentials;
    if (roleArn && serviceAccountRef) {
      // The reader's role trusts that ServiceAccount, in whichever namespace the README is followed.
      emulator.addWebIdentityRole({ roleArn, issuer, subjects: [`system:serviceaccount:*:${serviceAccountRef.name}`], audience: 'sts.amazonaws.com' });
      notes.push(`role ${roleArn} trusting ServiceAccount ${serviceAccountRef.name}`);
    } else if (roleArn) {
      emulator.addRole({ roleArn, ...(externalId ? { externalId } : {}) });
      notes.push(`role ${roleArn}${externalId ? ` (external ID ${externalId})` : ''}`);
    }
    for (const host of [registry.spec.registry, ...(registry.spec.additionalRegistries ?? [])]) {
      const parsed = parseRegistryHost(host);
      if (parsed && parsed.accountId !== first.accountId) {
        emulator.allowCrossAccount({ registryAccountId: parsed.accountId, principalAccountId: first.accountId });
        notes.push(`account ${parsed.accountId} lets ${first.accountId} read its repositories`);
      }
    }
  }

  const made = new Set<string>();
  for (const imageImport of objects.filter((o) => o.kind === IMAGE_IMPORT.kind) as unknown as ImageImport[]) {
    const kind = imageImport.spec.registryRef.kind ?? ECR_REGISTRY.kind;
    const registry = registries.find((r) => r.kind === kind && r.metadata.name === imageImport.spec.registryRef.name);
    const host = registry && parseRegistryHost(registry.spec.registry);
    if (!host) throw new Error(`ImageImport ${imageImport.metadata.name} names ${kind} ${imageImport.spec.registryRef.name}, which the README does not define`);
    const key = `${host.accountId}/${host.region}/${imageImport.spec.repository}`;
    if (!made.has(key)) {
      emulator.createRepository({ accountId: host.accountId, region: host.region, name: imageImport.spec.repository });
      made.add(key);
    }
    const tags = imageImport.spec.tags ?? ['latest'];
    emulator.pushIndex({
      accountId: host.accountId,
      region: host.region,
      repository: imageImport.spec.repository,
      tags,
      manifests: [{ platform: { os: 'linux', architecture: 'amd64' } }, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
    });
    notes.push(`repository ${key} with tags ${tags.join(', ')}`);
  }
  return [...new Set(notes)];
}
