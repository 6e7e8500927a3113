import { expect } from 'chai';
import type { ClusterEcrRegistry } from '../../../src/api/cluster-ecr-registry.ts';
import type { EcrRegistry } from '../../../src/api/ecr-registry.ts';
import { createEndpointAllowlist } from '../../../src/aws/endpoint-allowlist.ts';
import { clusterRegistryAccess, registryAccess } from '../../../src/imageimport/registry-access.ts';

const HOST = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const EMULATOR = 'http://127.0.0.1:4566';

function registry(extra: { spec?: Partial<EcrRegistry['spec']>; ready?: 'True' | 'False'; deleting?: boolean; pullSecretName?: string } = {}): EcrRegistry {
  return {
    apiVersion: 'ecr.pullsecrets.io/v1alpha1',
    kind: 'EcrRegistry',
    metadata: { name: 'prod', namespace: 'team', uid: 'u1', ...(extra.deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { registry: HOST, credentials: { secretRef: { name: 'aws-keys' } }, ...extra.spec },
    status: {
      pullSecretName: extra.pullSecretName ?? 'prod-pull',
      conditions: [{ type: 'Ready', status: extra.ready ?? 'True', reason: extra.ready === 'False' ? 'CredentialsRejected' : 'PullSecretReady', message: 'why', lastTransitionTime: '2025-01-01T00:00:00Z' }],
    },
  };
}

describe('registryAccess', () => {
  const allowlist = createEndpointAllowlist([EMULATOR]);

  it('sends registry requests to the registry host itself by default', () => {
    const result = registryAccess(registry(), 'prod', allowlist);
    expect(result.ok).to.equal(true);
    expect(result.ok && result.access).to.deep.include({
      host: HOST,
      accountId: '111122223333',
      region: 'us-east-1',
      registryBaseUrl: `https://${HOST}`,
      pullSecretName: 'prod-pull',
      credentials: { namespace: 'team', spec: { secretRef: { name: 'aws-keys' } } },
    });
    expect(result.ok && result.access.owner).to.include({ kind: 'EcrRegistry', name: 'prod' });
  });

  it('sends them to an endpoint the administrator allowlisted (an emulator)', () => {
    const result = registryAccess(registry({ spec: { endpoint: EMULATOR } }), 'prod', allowlist);
    expect(result.ok && result.access).to.include({ apiEndpoint: EMULATOR, registryBaseUrl: EMULATOR });
  });

  it('keeps them on the registry host when the endpoint is one of AWS own ECR API endpoints (a VPC endpoint)', () => {
    const vpce = 'https://vpce-0a1b2c3d4e5f67890-abcdefgh.api.ecr.us-east-1.vpce.amazonaws.com';
    const both = createEndpointAllowlist([vpce]);
    const result = registryAccess(registry({ spec: { endpoint: vpce } }), 'prod', both);
    expect(result.ok && result.access).to.include({ apiEndpoint: vpce, registryBaseUrl: `https://${HOST}` });
  });

  it('uses the FIPS API endpoint for a FIPS registry host', () => {
    const fips = '111122223333.dkr.ecr-fips.us-east-1.amazonaws.com';
    const result = registryAccess(registry({ spec: { registry: fips } }), 'prod', allowlist);
    expect(result.ok && result.access).to.include({ apiEndpoint: 'https://api.ecr-fips.us-east-1.amazonaws.com', registryBaseUrl: `https://${fips}` });
  });

  it('never follows an endpoint the allowlist refuses', () => {
    const result = registryAccess(registry({ spec: { endpoint: 'https://attacker.example' } }), 'prod', allowlist);
    expect(result).to.include({ ok: false, reason: 'RegistryNotReady' });
  });

  it('waits for a missing, deleting or not Ready registry', () => {
    expect(registryAccess(undefined, 'prod', allowlist)).to.include({ ok: false, reason: 'RegistryNotFound' });
    expect(registryAccess(registry({ deleting: true }), 'prod', allowlist)).to.include({ ok: false, reason: 'RegistryDeleting' });
    const notReady = registryAccess(registry({ ready: 'False' }), 'prod', allowlist);
    expect(notReady).to.deep.equal({ ok: false, reason: 'RegistryNotReady', message: 'EcrRegistry prod is not Ready (CredentialsRejected: why)' });
  });

  it('says a person must act when the registry it waits for is Stalled, or names an endpoint the operator refuses', () => {
    const stalledRegistry = registry({ ready: 'False' });
    stalledRegistry.status!.conditions!.push({ type: 'Stalled', status: 'True', reason: 'CredentialsRejected', message: 'why', lastTransitionTime: '2025-01-01T00:00:00Z' });
    expect(registryAccess(stalledRegistry, 'prod', allowlist)).to.include({ ok: false, reason: 'RegistryNotReady', stalled: true });
    expect(registryAccess(registry({ spec: { endpoint: 'https://attacker.example' } }), 'prod', allowlist)).to.include({ stalled: true });
  });

  it('keeps importing while the registry is Ready, whatever its last refresh did', () => {
    const refreshFailing = registry();
    refreshFailing.status!.conditions!.push({ type: 'Refreshed', status: 'False', reason: 'Throttled', message: 'token valid for 9h', lastTransitionTime: '2025-01-01T00:00:00Z' });
    expect(registryAccess(refreshFailing, 'prod', allowlist).ok).to.equal(true);
  });
});

describe('EndpointAllowlist.isAdministratorEndpoint', () => {
  const allowlist = createEndpointAllowlist([EMULATOR, '/https://ecr-mirror\\.internal(:\\d+)?/']);

  it('is true for an administrator entry, exact or by pattern', () => {
    expect(allowlist.isAdministratorEndpoint(EMULATOR)).to.equal(true);
    expect(allowlist.isAdministratorEndpoint(`${EMULATOR}/`)).to.equal(true);
    expect(allowlist.isAdministratorEndpoint('https://ecr-mirror.internal:8443')).to.equal(true);
  });

  it('is false for AWS endpoints, unknown origins and endpoints with a path or credentials', () => {
    expect(allowlist.isAdministratorEndpoint('https://api.ecr.us-east-1.amazonaws.com')).to.equal(false);
    expect(allowlist.isAdministratorEndpoint('http://127.0.0.1:9999')).to.equal(false);
    expect(allowlist.isAdministratorEndpoint(`${EMULATOR}/v2/`)).to.equal(false);
    expect(allowlist.isAdministratorEndpoint('http://user:pw@127.0.0.1:4566')).to.equal(false);
  });
});

describe('clusterRegistryAccess', () => {
  const allowlist = createEndpointAllowlist();
  const cluster = (status: Record<string, unknown> = {}) =>
    ({
      metadata: { name: 'shared', uid: 'cluster-uid' },
      spec: { registry: HOST, credentials: { secretRef: { namespace: 'ecr-pullsecrets-system', name: 'keys' } }, namespaceSelector: { matchLabels: { team: 'a' } } },
      status: { pullSecretName: 'shared', expirationTime: '2030-01-01T00:00:00.000Z', ...status },
    }) as unknown as ClusterEcrRegistry;

  it('serves a selected namespace with the pull secret there and the keys from the named namespace', () => {
    const result = clusterRegistryAccess(cluster(), 'shared', 'team-a', true, allowlist);
    expect(result.ok && result.access).to.deep.include({ pullSecretName: 'shared', credentials: { namespace: undefined, spec: cluster().spec.credentials } });
    expect(result.ok && result.access.owner).to.include({ kind: 'ClusterEcrRegistry', name: 'shared' });
  });

  it('reports RegistryNotServingNamespace, stalled, for a namespace it does not select', () => {
    expect(clusterRegistryAccess(cluster(), 'shared', 'team-b', false, allowlist)).to.include({ ok: false, reason: 'RegistryNotServingNamespace', stalled: true });
  });

  it('waits on a namespace the registry lists as failing, with the reason', () => {
    const failing = cluster({ failedNamespaces: [{ namespace: 'team-a', reason: 'PullSecretConflict', message: 'taken' }] });
    const result = clusterRegistryAccess(failing, 'shared', 'team-a', true, allowlist);
    expect(result).to.include({ ok: false, reason: 'RegistryNotReady', stalled: true });
  });

  it('reports a missing ClusterEcrRegistry', () => {
    expect(clusterRegistryAccess(undefined, 'shared', 'team-a', false, allowlist)).to.include({ ok: false, reason: 'RegistryNotFound' });
  });
});
