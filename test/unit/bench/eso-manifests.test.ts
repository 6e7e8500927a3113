import { expect } from 'chai';
import {
  DOCKERCONFIGJSON_TEMPLATE,
  ecrAuthorizationToken,
  esoArgs,
  externalSecret,
  type PeerFigures,
  peerTable,
  readPeerSettings,
} from '../../bench/peers/eso-manifests.ts';

describe('bench peers: ESO manifests', () => {
  it('renders one ECRAuthorizationToken per credentials Secret, reading the keys the bench writes', () => {
    const generator = ecrAuthorizationToken({ namespace: 'ns-1', name: 'creds-0', region: 'us-east-1', labels: { set: 'a' } });
    expect(generator).to.deep.equal({
      apiVersion: 'generators.external-secrets.io/v1alpha1',
      kind: 'ECRAuthorizationToken',
      metadata: { name: 'creds-0', namespace: 'ns-1', labels: { set: 'a' } },
      spec: {
        region: 'us-east-1',
        auth: {
          secretRef: {
            accessKeyIDSecretRef: { name: 'creds-0', key: 'AWS_ACCESS_KEY_ID' },
            secretAccessKeySecretRef: { name: 'creds-0', key: 'AWS_SECRET_ACCESS_KEY' },
          },
        },
      },
    });
  });

  it('renders an ExternalSecret whose dataFrom names the generator and whose template writes a dockerconfigjson Secret of the same name', () => {
    const es = externalSecret({ namespace: 'ns-1', name: 'reg-7', generator: 'creds-0', refreshInterval: '1h', labels: { set: 'a' } });
    expect(es.apiVersion).to.equal('external-secrets.io/v1');
    expect(es.spec.refreshInterval).to.equal('1h');
    expect(es.spec.target.name).to.equal('reg-7');
    expect(es.spec.target.template.type).to.equal('kubernetes.io/dockerconfigjson');
    expect(es.spec.target.template.metadata.labels).to.deep.equal({ set: 'a' });
    expect(es.spec.target.template.data).to.deep.equal({ '.dockerconfigjson': DOCKERCONFIGJSON_TEMPLATE });
    expect(es.spec.dataFrom).to.deep.equal([
      { sourceRef: { generatorRef: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'ECRAuthorizationToken', name: 'creds-0' } } },
    ]);
  });

  it('builds the registry entry from the generator outputs: host without scheme, username, password and auth', () => {
    expect(DOCKERCONFIGJSON_TEMPLATE).to.include('{{ .proxy_endpoint | trimPrefix "https://" }}');
    expect(DOCKERCONFIGJSON_TEMPLATE).to.include('"password":"{{ .password }}"');
    expect(DOCKERCONFIGJSON_TEMPLATE).to.include('"auth":"{{ printf "%s:%s" .username .password | b64enc }}"');
  });

  it('runs the controller with the Helm defaults and metrics on loopback', () => {
    expect(esoArgs({ metricsPort: 9100, concurrent: 1 })).to.deep.equal(['--metrics-addr=127.0.0.1:9100', '--concurrent=1', '--loglevel=info']);
  });
});

describe('bench peers: settings', () => {
  it('defaults to the Helm concurrency, a 1h refresh, and 120 s tokens against a 180 s refresh for 100 secrets', () => {
    const settings = readPeerSettings({});
    expect(settings).to.deep.equal({
      esoConcurrent: 1,
      refreshInterval: '1h',
      expirySecrets: 100,
      expiryTokenLifetimeSeconds: 120,
      expiryRefreshSeconds: 180,
      expirySampleSeconds: 210,
    });
  });

  it('reads overrides and a source tree', () => {
    const settings = readPeerSettings({ BENCH_PEERS_ESO_CONCURRENT: '4', BENCH_PEERS_REFRESH: '90m', BENCH_PEERS_EXPIRY_SECONDS: '30', ESO_SOURCE_DIR: '/src/eso' });
    expect(settings.esoConcurrent).to.equal(4);
    expect(settings.refreshInterval).to.equal('90m');
    expect(settings.expirySampleSeconds).to.equal(30);
    expect(settings.esoSourceDir).to.equal('/src/eso');
  });

  it('refuses values that are not whole numbers or Go durations', () => {
    expect(() => readPeerSettings({ BENCH_PEERS_ESO_CONCURRENT: '0' })).to.throw('BENCH_PEERS_ESO_CONCURRENT must be a whole number ≥ 1, not "0"');
    expect(() => readPeerSettings({ BENCH_PEERS_EXPIRY_LIFETIME: '5' })).to.throw('BENCH_PEERS_EXPIRY_LIFETIME must be a whole number ≥ 10');
    expect(() => readPeerSettings({ BENCH_PEERS_REFRESH: 'hourly' })).to.throw('BENCH_PEERS_REFRESH must be a Go duration');
  });
});

describe('bench peers: the side-by-side table', () => {
  const side = (name: string, overrides: Partial<PeerFigures> = {}): PeerFigures => ({
    name,
    convergenceSeconds: 103.04,
    getAuthorizationTokenCalls: 1000,
    apiserverReads: 4139,
    apiserverWrites: 1000,
    quietReads: 636,
    quietWrites: 0,
    quietSeconds: 60,
    peakRssMiB: 151.2,
    settledRssMiB: 120.4,
    cpuSeconds: 30.55,
    expiry: { secrets: 100, secretsServedExpired: 15, lifetimeSeconds: 120, refreshSeconds: 180 },
    ...overrides,
  });

  it('puts one column per side and one row per figure', () => {
    const table = peerTable([side('ESO'), side('operator', { convergenceSeconds: 10.2, quietReads: 0, quietWrites: 3, quietSeconds: 30, expiry: { secrets: 100, secretsServedExpired: 0, lifetimeSeconds: 120 } })]);
    const lines = table.split('\n');
    expect(lines[0]).to.equal('| | ESO | operator |');
    expect(lines[1]).to.equal('|---|---|---|');
    expect(lines).to.include('| Convergence (process start → every pull secret valid) | 103.0 s | 10.2 s |');
    expect(lines).to.include('| GetAuthorizationToken calls | 1000 | 1000 |');
    expect(lines).to.include('| apiserver reads / writes in a quiet minute | 636 / 0 | 0 / 6 |');
    expect(lines).to.include('| Peak / settled RSS | 151 / 120 MiB | 151 / 120 MiB |');
    expect(lines).to.include('| Secrets that served an expired token | 15 of 100 (tokens live 120 s, refreshInterval 180 s) | 0 of 100 (tokens live 120 s) |');
    expect(lines).to.have.length(9);
  });

  it('shows n/a for a figure that was not measured', () => {
    expect(peerTable([side('ESO', { cpuSeconds: Number.NaN })])).to.include('| CPU seconds during convergence | n/a |');
  });
});
