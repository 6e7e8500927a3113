import { expect } from 'chai';
import type { EcrRegistry } from '../../../src/api/ecr-registry.ts';
import { createEndpointAllowlist } from '../../../src/aws/endpoint-allowlist.ts';
import { registryAccess } from '../../../src/imageimport/registry-access.ts';

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
    expect(result).to.deep.equal({
      ok: true,
      access: { host: HOST, accountId: '111122223333', region: 'us-east-1', registryBaseUrl: `https://${HOST}`, pullSecretName: 'prod-pull' },
    });
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
