import { expect } from 'chai';
import type { ClusterRegistryState, PullSecretState, RegistryState, Snapshot } from '../../demo/observer.ts';
import { readDemoSettings } from '../../demo/settings.ts';
import { Timeline } from '../../demo/timeline.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function secret(tokenId: string, issuedAtMs: number, name = 'ecr-shared'): PullSecretState {
  return { name, issuedAtMs, expiresAtMs: issuedAtMs + 60_000, hosts: ['123456789012.dkr.ecr.us-east-1.amazonaws.com'], tokenId, registryStatus: 200 };
}

function cluster(namespaces: Array<[string, PullSecretState | undefined]>): ClusterRegistryState {
  return {
    name: 'ecr-shared',
    selector: 'ecr.demo/pull=true',
    pullSecretName: 'ecr-shared',
    failedNamespaces: [],
    namespacesSelected: namespaces.length,
    namespacesReady: namespaces.filter(([, s]) => s).length,
    namespacesFailed: 0,
    namespaces: namespaces.map(([namespace, pullSecret]) => ({ namespace, selected: true, ...(pullSecret ? { pullSecret } : {}) })),
  };
}

function snapshot(atMs: number, clusterRegistries: ClusterRegistryState[], registries: RegistryState[] = []): Snapshot {
  return { atMs, registries, clusterRegistries, imports: [], events: [], metrics: undefined };
}

describe('demo timeline: ClusterEcrRegistry', () => {
  it('counts one rotation when every namespace gets the new token, and says so once', () => {
    const timeline = new Timeline(T0);
    timeline.update(snapshot(T0 + 1_000, [cluster([['team-a', secret('t1', T0)], ['team-b', secret('t1', T0)]])]));
    const moments = timeline.update(snapshot(T0 + 31_000, [cluster([['team-a', secret('t2', T0 + 30_000)], ['team-b', secret('t2', T0 + 30_000)]])]));

    expect(timeline.clusterRotations('ecr-shared')).to.equal(1);
    expect(timeline.firstClusterRotationAtMs).to.equal(T0 + 31_000);
    const rotations = moments.filter((m) => m.text.includes('rotated'));
    expect(rotations.map((m) => m.text)).to.deep.equal([
      'Cluster pull secret ecr-shared rotated (#1) in 2 namespaces (team-a, team-b): one new token valid for 1m00s; the old one still had 29s left.',
    ]);
  });

  it('tells a namespace catching up with a token already counted without counting it again', () => {
    const timeline = new Timeline(T0);
    timeline.update(snapshot(T0 + 1_000, [cluster([['team-a', secret('t1', T0)], ['team-b', secret('t1', T0)]])]));
    timeline.update(snapshot(T0 + 31_000, [cluster([['team-a', secret('t2', T0 + 30_000)], ['team-b', secret('t1', T0)]])]));
    const moments = timeline.update(snapshot(T0 + 32_000, [cluster([['team-a', secret('t2', T0 + 30_000)], ['team-b', secret('t2', T0 + 30_000)]])]));

    expect(timeline.clusterRotations('ecr-shared')).to.equal(1);
    expect(moments.map((m) => m.text)).to.deep.equal(['Cluster pull secret ecr-shared in team-b caught up with the current token.']);
  });

  it('names the EcrRegistry whose token a new namespace copy shares', () => {
    const timeline = new Timeline(T0);
    const registry: RegistryState = { name: 'ecr-pull', serviceAccounts: [], pullSecret: secret('t1', T0, 'ecr-pull') };
    const moments = timeline.update(snapshot(T0 + 1_000, [cluster([['team-a', secret('t1', T0)]])], [registry]));

    expect(moments.map((m) => m.text)).to.include(
      'ClusterEcrRegistry ecr-shared wrote pull secret ecr-shared into namespace team-a, holding the token EcrRegistry ecr-pull holds (the same AWS keys: one ECR token per credential set), valid for 1m00s.',
    );
    expect(timeline.firstClusterSecretAtMs).to.equal(T0 + 1_000);
  });

  it('says when an EcrRegistry rotates to the token a ClusterEcrRegistry with the same keys already serves', () => {
    const timeline = new Timeline(T0);
    const registry = (pullSecret: PullSecretState): RegistryState => ({ name: 'ecr-pull', serviceAccounts: [], pullSecret });
    timeline.update(snapshot(T0 + 1_000, [cluster([['team-a', secret('t1', T0)]])], [registry(secret('t1', T0, 'ecr-pull'))]));
    timeline.update(snapshot(T0 + 31_000, [cluster([['team-a', secret('t2', T0 + 30_000)]])], [registry(secret('t1', T0, 'ecr-pull'))]));
    const moments = timeline.update(snapshot(T0 + 32_000, [cluster([['team-a', secret('t2', T0 + 30_000)]])], [registry(secret('t2', T0 + 30_000, 'ecr-pull'))]));

    expect(moments.map((m) => m.text)).to.deep.equal([
      'Pull secret ecr-pull rotated (#1): new token valid for 1m00s (the token ClusterEcrRegistry ecr-shared already serves, from the same keys: no ECR call of its own); the old one still had 28s left, so no pod ever saw it expire.',
    ]);
  });

  it('counts a selected namespace that loses its pull secret, and an expired copy as an expired sample', () => {
    const timeline = new Timeline(T0);
    timeline.update(snapshot(T0 + 1_000, [cluster([['team-a', secret('t1', T0)], ['team-b', secret('t1', T0)]])]));
    const lost = timeline.update(snapshot(T0 + 2_000, [cluster([['team-a', secret('t1', T0)], ['team-b', undefined]])]));
    timeline.update(snapshot(T0 + 61_000, [cluster([['team-a', secret('t1', T0)]])]));

    expect(timeline.lostPullSecrets).to.equal(1);
    expect(lost.map((m) => m.tone)).to.include('warn');
    expect(timeline.expiredSamples, 'team-a still held t1 a second after it expired').to.equal(1);
  });
});

describe('demo settings: DEMO_NAMESPACE_SECONDS', () => {
  it('creates team-b 20 s after the ClusterEcrRegistry unless told otherwise, and 0 turns it off', () => {
    expect(readDemoSettings({}, false).namespaceSeconds).to.equal(20);
    expect(readDemoSettings({ DEMO_NAMESPACE_SECONDS: '0' }, false).namespaceSeconds).to.equal(0);
    expect(() => readDemoSettings({ DEMO_NAMESPACE_SECONDS: '-1' }, false)).to.throw('DEMO_NAMESPACE_SECONDS');
  });
});
