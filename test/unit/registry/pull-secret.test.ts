import type { V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistry } from '../../../src/api/ecr-registry.ts';
import type { EcrAuthorization } from '../../../src/aws/ecr-token.ts';
import {
  desiredPullSecret,
  isOwnedBy,
  mergePullSecret,
  pullSecretMatches,
  pullSecretName,
  readHeldToken,
} from '../../../src/registry/pull-secret.ts';

const HOST_A = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
const HOST_B = '222222222222.dkr.ecr.us-east-1.amazonaws.com';
const FINGERPRINT = '0123456789abcdef0123456789abcdef';
const TOKEN: EcrAuthorization = {
  username: 'AWS',
  password: 'eyJwYXlsb2FkIjoiZmlyc3QifQ==',
  issuedAt: new Date('2025-01-01T08:00:00.000Z'),
  expiresAt: new Date('2025-01-01T20:00:00.000Z'),
};
const NEXT_TOKEN: EcrAuthorization = {
  username: 'AWS',
  password: 'eyJwYXlsb2FkIjoic2Vjb25kIn0=',
  issuedAt: new Date('2025-01-01T14:00:00.000Z'),
  expiresAt: new Date('2025-01-02T02:00:00.000Z'),
};

function registry(overrides: Partial<EcrRegistry['spec']> = {}): EcrRegistry {
  return {
    apiVersion: 'ecr.pullsecrets.io/v1alpha1',
    kind: 'EcrRegistry',
    metadata: { name: 'prod', namespace: 'team-a', uid: '6f1e0f4a-registry-uid', generation: 1 },
    spec: { registry: HOST_A, credentials: { secretRef: { name: 'aws-keys' } }, ...overrides },
  };
}

function decodeConfig(secret: V1Secret): unknown {
  return JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString('utf8'));
}

/** What the API server hands back: our object plus server-set and foreign fields. */
function asStored(secret: V1Secret): V1Secret {
  const copy = structuredClone(secret);
  copy.metadata!.resourceVersion = '42';
  copy.metadata!.labels = { ...copy.metadata!.labels, team: 'payments' };
  copy.metadata!.annotations = { ...copy.metadata!.annotations, 'backup.example.com/skip': 'true' };
  return copy;
}

describe('pullSecretName', () => {
  it('defaults to the registry name', () => {
    expect(pullSecretName(registry())).to.equal('prod');
  });

  it('uses spec.pullSecret.name when set', () => {
    expect(pullSecretName(registry({ pullSecret: { name: 'ecr-pull' } }))).to.equal('ecr-pull');
  });
});

describe('desiredPullSecret', () => {
  const secret = desiredPullSecret(registry(), [HOST_B, HOST_A], TOKEN, FINGERPRINT);

  it('is a kubernetes.io/dockerconfigjson Secret named after the registry, in its namespace', () => {
    expect(secret).to.deep.include({ apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/dockerconfigjson' });
    expect(secret.metadata).to.deep.include({ name: 'prod', namespace: 'team-a' });
    expect(Object.keys(secret.data!)).to.deep.equal(['.dockerconfigjson']);
  });

  it('carries the managed-by label and the registry label', () => {
    expect(secret.metadata!.labels).to.deep.equal({
      'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator',
      'ecr.pullsecrets.io/registry': 'prod',
    });
  });

  it('is controlled by the registry through an ownerReference with its uid', () => {
    expect(secret.metadata!.ownerReferences).to.deep.equal([
      {
        apiVersion: 'ecr.pullsecrets.io/v1alpha1',
        kind: 'EcrRegistry',
        name: 'prod',
        uid: '6f1e0f4a-registry-uid',
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it('records when the token was issued, when it expires and which credentials minted it', () => {
    expect(secret.metadata!.annotations).to.deep.equal({
      'ecr.pullsecrets.io/issued-at': '2025-01-01T08:00:00.000Z',
      'ecr.pullsecrets.io/expires-at': '2025-01-01T20:00:00.000Z',
      'ecr.pullsecrets.io/credentials-fingerprint': FINGERPRINT,
    });
  });

  it('holds the token under every host', () => {
    const entry = { username: 'AWS', password: TOKEN.password, auth: Buffer.from(`AWS:${TOKEN.password}`).toString('base64') };
    expect(decodeConfig(secret)).to.deep.equal({ auths: { [HOST_A]: entry, [HOST_B]: entry } });
  });

  it('uses the configured pull secret name', () => {
    expect(desiredPullSecret(registry({ pullSecret: { name: 'ecr-pull' } }), [HOST_A], TOKEN, FINGERPRINT).metadata!.name).to.equal('ecr-pull');
  });

  it('refuses to build a secret from an empty password', () => {
    expect(() => desiredPullSecret(registry(), [HOST_A], { ...TOKEN, password: '' }, FINGERPRINT)).to.throw();
  });

  it('refuses to build a secret with no hosts', () => {
    expect(() => desiredPullSecret(registry(), [], TOKEN, FINGERPRINT)).to.throw();
  });
});

describe('isOwnedBy', () => {
  const owned = desiredPullSecret(registry(), [HOST_A], TOKEN, FINGERPRINT);

  it('is true for a Secret with the managed-by label and a controller reference to the registry uid', () => {
    expect(isOwnedBy(asStored(owned), registry())).to.equal(true);
  });

  it('is true without the managed-by label: the uid in the controller reference decides, and the next write relabels it', () => {
    const unlabeled = structuredClone(owned);
    delete unlabeled.metadata!.labels!['app.kubernetes.io/managed-by'];
    expect(isOwnedBy(unlabeled, registry())).to.equal(true);
    expect(mergePullSecret(unlabeled, owned).metadata!.labels).to.include({ 'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator' });
  });

  it('is false without a controller reference to the registry uid, whatever the labels say', () => {
    const labelledOnly = structuredClone(owned);
    labelledOnly.metadata!.ownerReferences = [];
    expect(isOwnedBy(labelledOnly, registry())).to.equal(false);
  });

  it('is false for a registry of the same name with another uid (deleted and recreated)', () => {
    const recreated = registry();
    recreated.metadata.uid = 'a-new-uid';
    expect(isOwnedBy(owned, recreated)).to.equal(false);
  });

  it('is false when the reference to the registry is not the controller', () => {
    const notController = structuredClone(owned);
    notController.metadata!.ownerReferences![0]!.controller = false;
    expect(isOwnedBy(notController, registry())).to.equal(false);
  });

  it('is false for a Secret with the label but no ownerReferences', () => {
    const orphan = structuredClone(owned);
    delete orphan.metadata!.ownerReferences;
    expect(isOwnedBy(orphan, registry())).to.equal(false);
  });
});

describe('readHeldToken', () => {
  it('reads back the token, its lifetime, the credentials fingerprint and the hosts', () => {
    const held = readHeldToken(asStored(desiredPullSecret(registry(), [HOST_B, HOST_A], TOKEN, FINGERPRINT)));
    expect(held).to.deep.equal({
      username: 'AWS',
      password: TOKEN.password,
      issuedAt: TOKEN.issuedAt,
      expiresAt: TOKEN.expiresAt,
      credentialsFingerprint: FINGERPRINT,
      hosts: [HOST_A, HOST_B],
    });
  });

  it('returns undefined when the lifetime annotations are missing or unreadable', () => {
    const secret = desiredPullSecret(registry(), [HOST_A], TOKEN, FINGERPRINT);
    const missing = structuredClone(secret);
    delete missing.metadata!.annotations!['ecr.pullsecrets.io/expires-at'];
    expect(readHeldToken(missing)).to.equal(undefined);
    const garbled = structuredClone(secret);
    garbled.metadata!.annotations!['ecr.pullsecrets.io/issued-at'] = 'yesterday';
    expect(readHeldToken(garbled)).to.equal(undefined);
  });

  it('never trusts an annotated expiry or issue time later than the ones the operator recorded in status', () => {
    const tampered = desiredPullSecret(registry(), [HOST_A], TOKEN, FINGERPRINT);
    tampered.metadata!.annotations!['ecr.pullsecrets.io/issued-at'] = '2030-01-01T00:00:00.000Z';
    tampered.metadata!.annotations!['ecr.pullsecrets.io/expires-at'] = '2030-01-01T12:00:00.000Z';
    const recorded = { issuedAt: TOKEN.issuedAt.toISOString(), expiresAt: TOKEN.expiresAt.toISOString() };
    const held = readHeldToken(tampered, recorded);
    expect(held?.issuedAt).to.deep.equal(TOKEN.issuedAt);
    expect(held?.expiresAt).to.deep.equal(TOKEN.expiresAt);
  });

  it('takes an annotated expiry earlier than the recorded one, which only refreshes sooner', () => {
    const earlier = desiredPullSecret(registry(), [HOST_A], TOKEN, FINGERPRINT);
    const recorded = { issuedAt: TOKEN.issuedAt.toISOString(), expiresAt: new Date(TOKEN.expiresAt.getTime() + 3_600_000).toISOString() };
    expect(readHeldToken(earlier, recorded)?.expiresAt).to.deep.equal(TOKEN.expiresAt);
  });

  it('returns undefined when the data is missing or not a docker config', () => {
    const secret = desiredPullSecret(registry(), [HOST_A], TOKEN, FINGERPRINT);
    const noData = structuredClone(secret);
    delete noData.data;
    expect(readHeldToken(noData)).to.equal(undefined);
    const notConfig = structuredClone(secret);
    notConfig.data = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };
    expect(readHeldToken(notConfig)).to.equal(undefined);
  });
});

describe('pullSecretMatches', () => {
  const desired = desiredPullSecret(registry(), [HOST_A], TOKEN, FINGERPRINT);

  it('matches a stored copy that carries foreign labels, annotations and server fields', () => {
    expect(pullSecretMatches(asStored(desired), desired)).to.equal(true);
  });

  it('detects a new token', () => {
    const next = desiredPullSecret(registry(), [HOST_A], NEXT_TOKEN, FINGERPRINT);
    expect(pullSecretMatches(asStored(desired), next)).to.equal(false);
  });

  it('detects an added host', () => {
    expect(pullSecretMatches(asStored(desired), desiredPullSecret(registry(), [HOST_A, HOST_B], TOKEN, FINGERPRINT))).to.equal(false);
  });

  it('detects an extra data key someone added', () => {
    const tampered = asStored(desired);
    tampered.data = { ...tampered.data, extra: 'eA==' };
    expect(pullSecretMatches(tampered, desired)).to.equal(false);
  });

  it('detects a changed credentials fingerprint annotation', () => {
    expect(pullSecretMatches(asStored(desired), desiredPullSecret(registry(), [HOST_A], TOKEN, 'ffffffffffffffffffffffffffffffff'))).to.equal(false);
  });

  it('detects a removed managed-by label', () => {
    const stored = asStored(desired);
    delete stored.metadata!.labels!['app.kubernetes.io/managed-by'];
    expect(pullSecretMatches(stored, desired)).to.equal(false);
  });

  it('detects a changed type', () => {
    expect(pullSecretMatches({ ...asStored(desired), type: 'Opaque' }, desired)).to.equal(false);
  });

  it('detects a missing controller reference', () => {
    const stored = asStored(desired);
    stored.metadata!.ownerReferences = [];
    expect(pullSecretMatches(stored, desired)).to.equal(false);
  });
});

describe('mergePullSecret', () => {
  const stored = asStored(desiredPullSecret(registry(), [HOST_A], TOKEN, FINGERPRINT));
  const next = desiredPullSecret(registry(), [HOST_A, HOST_B], NEXT_TOKEN, FINGERPRINT);
  const merged = mergePullSecret(stored, next);

  it('takes the new data and annotations', () => {
    expect(merged.data).to.deep.equal(next.data);
    expect(merged.metadata!.annotations).to.include({
      'ecr.pullsecrets.io/issued-at': '2025-01-01T14:00:00.000Z',
      'ecr.pullsecrets.io/expires-at': '2025-01-02T02:00:00.000Z',
    });
  });

  it('keeps labels and annotations that others added', () => {
    expect(merged.metadata!.labels).to.deep.equal({
      'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator',
      'ecr.pullsecrets.io/registry': 'prod',
      team: 'payments',
    });
    expect(merged.metadata!.annotations).to.include({ 'backup.example.com/skip': 'true' });
  });

  it('keeps the resourceVersion, so the update is a compare-and-swap', () => {
    expect(merged.metadata!.resourceVersion).to.equal('42');
  });

  it('results in a Secret that matches what was desired', () => {
    expect(pullSecretMatches(merged, next)).to.equal(true);
  });

  it('drops data keys that are not part of the desired secret', () => {
    const tampered = { ...stored, data: { ...stored.data, extra: 'eA==' } };
    expect(Object.keys(mergePullSecret(tampered, next).data!)).to.deep.equal(['.dockerconfigjson']);
  });

  it('keeps foreign non-controller ownerReferences and holds exactly one controller reference', () => {
    const foreign = { apiVersion: 'v1', kind: 'ConfigMap', name: 'anchor', uid: 'configmap-uid' };
    const withForeign = structuredClone(stored);
    withForeign.metadata!.ownerReferences = [foreign, ...withForeign.metadata!.ownerReferences!];
    const result = mergePullSecret(withForeign, next);
    expect(result.metadata!.ownerReferences).to.deep.equal([foreign, next.metadata!.ownerReferences![0]]);
  });

  it('does not modify the current object', () => {
    const before = structuredClone(stored);
    mergePullSecret(stored, next);
    expect(stored).to.deep.equal(before);
  });
});
