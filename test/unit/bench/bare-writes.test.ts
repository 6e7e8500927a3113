import { expect } from 'chai';
import type { EcrRegistry } from '../../../src/api/ecr-registry.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../../src/api/group.ts';
import { isOwnedBy, REGISTRY_LABEL, readHeldToken } from '../../../src/registry/pull-secret.ts';
import { fastestRun, interleavedRuns, passSeconds, renderedWrites, renderPass } from '../../bench/bare-writes.ts';
import { HOST } from '../../bench/fleet.ts';

describe('bench bare passes', () => {
  const pass = (ms: number) => ({ ms, cpuSeconds: { apiServer: ms / 1000 } });

  it('takes the fastest pass, with its own CPU figures', () => {
    const runs = [pass(45_360), pass(67_460), pass(68_720)];
    expect(fastestRun(runs)).to.equal(runs[0]);
    expect(fastestRun([pass(8000), pass(5200), pass(6100)]).cpuSeconds).to.deep.equal({ apiServer: 5.2 });
  });

  it('takes the only pass of one', () => {
    expect(fastestRun([pass(7)]).ms).to.equal(7);
  });

  it('refuses an empty list rather than inventing a denominator', () => {
    expect(() => fastestRun([])).to.throw('no bare pass ran');
  });

  it('lists each pass in seconds, in the order they ran', () => {
    expect(passSeconds({ runs: [pass(5234), pass(6001)] })).to.deep.equal([5.23, 6]);
  });
});

describe('bench run order', () => {
  it('alternates bare passes and cold starts, a cold start last', () => {
    expect(interleavedRuns(3, 3)).to.deep.equal(['bare', 'cold', 'bare', 'cold', 'bare', 'cold']);
  });

  it('runs the surplus of either kind first, so the operator that stays up is the last cold start', () => {
    expect(interleavedRuns(3, 1)).to.deep.equal(['bare', 'bare', 'bare', 'cold']);
    expect(interleavedRuns(1, 3)).to.deep.equal(['cold', 'cold', 'bare', 'cold']);
  });

  it('runs only cold starts without the bare scenario', () => {
    expect(interleavedRuns(0, 2)).to.deep.equal(['cold', 'cold']);
  });
});

describe('bench bare bodies', () => {
  const registry = {
    apiVersion: 'ecr.pullsecrets.io/v1alpha1',
    kind: 'EcrRegistry',
    metadata: { name: 'bare-7', namespace: 'bench-bare', uid: 'uid-7', generation: 1 },
    spec: { registry: HOST, credentials: { secretRef: { name: 'none' } } },
  } as EcrRegistry;
  const now = new Date('2026-12-01T03:00:00.000Z');

  it("writes the Secret the operator writes: owned by the registry, with the token's annotated expiry", () => {
    const { secret } = renderedWrites(registry, now);
    expect(secret.type).to.equal('kubernetes.io/dockerconfigjson');
    expect(isOwnedBy(secret, registry)).to.equal(true);
    expect(secret.metadata?.labels).to.include({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [REGISTRY_LABEL]: 'bare-7' });
    expect(readHeldToken(secret)?.expiresAt.toISOString()).to.equal('2026-12-01T15:00:00.000Z');
    expect(readHeldToken(secret)?.hosts).to.deep.equal([HOST]);
  });

  it('patches the status the operator reports, and a different one on each pass', () => {
    const first = renderedWrites(registry, now).status;
    expect(first.conditions?.map((c) => [c.type, c.status, c.observedGeneration])).to.deep.equal([
      ['Ready', 'True', 1],
      ['Refreshed', 'True', 1],
    ]);
    expect(first).to.include({ pullSecretName: 'bare-7', expirationTime: '2026-12-01T15:00:00.000Z', nextRefreshTime: '2026-12-01T09:00:00.000Z' });
    const next = renderedWrites(registry, new Date(now.getTime() + 60_000)).status;
    expect(next.lastRefreshTime).to.not.equal(first.lastRefreshTime);
    expect(next.conditions?.[0]?.message).to.not.equal(first.conditions?.[0]?.message);
  });

  it("renders a pass in the registries' order, each Secret owned by its registry in its namespace, the pass's one docker config held once", () => {
    const other = { ...registry, metadata: { ...registry.metadata, name: 'bare-8', namespace: 'bench-c-1', uid: 'uid-8' } } as EcrRegistry;
    const [seven, eight] = renderPass([registry, other], now);
    expect([seven, eight].map((w) => `${w?.namespace}/${w?.name}`)).to.deep.equal(['bench-bare/bare-7', 'bench-c-1/bare-8']);
    expect(isOwnedBy(eight!.secret, other)).to.equal(true);
    expect(eight!.secret.metadata?.namespace).to.equal('bench-c-1');
    expect(eight!.status.pullSecretName).to.equal('bare-8');
    expect(seven!.secret.data).to.equal(eight!.secret.data);
    expect(eight!.secret.data).to.deep.equal(renderedWrites(other, now).secret.data);
  });
});
