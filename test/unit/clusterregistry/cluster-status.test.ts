import { expect } from 'chai';
import { type ClusterTokenOutcome, nextClusterStatus, type NamespaceOutcome } from '../../../src/clusterregistry/cluster-status.ts';
import { findCondition } from '../../../src/runtime/conditions.ts';

const now = new Date('2026-11-30T10:00:00.000Z');
const ctx = { generation: 3, now, pullSecretName: 'ecr', inUseBy: [] };
const token: ClusterTokenOutcome = {
  token: { username: 'AWS', password: 'p', issuedAt: now, expiresAt: new Date('2026-11-30T22:00:00.000Z') },
  fingerprint: 'f',
  hosts: ['h'],
  nextRefresh: new Date('2026-11-30T16:00:00.000Z'),
  rotated: true,
};
const served = (namespace: string): NamespaceOutcome => ({ namespace, served: true });
const conflict = (namespace: string): NamespaceOutcome => ({ namespace, served: false, failure: { reason: 'PullSecretConflict', message: 'taken', retryable: false } });

describe('nextClusterStatus', () => {
  it('is Ready with the counts when every selected namespace is served', () => {
    const status = nextClusterStatus(undefined, ctx, token, [served('a'), served('b')]);
    expect(status).to.include({ observedGeneration: 3, namespacesSelected: 2, namespacesReady: 2, namespacesFailed: 0, expirationTime: '2026-11-30T22:00:00.000Z' });
    expect(findCondition(status.conditions, 'Ready')).to.include({ status: 'True', reason: 'PullSecretReady' });
    expect(findCondition(status.conditions, 'Stalled')).to.equal(undefined);
  });

  it('lists failing namespaces with their reason, at most 20, and stalls when a person must act', () => {
    const namespaces = [served('ok'), ...Array.from({ length: 25 }, (_, i) => conflict(`n${String(i).padStart(2, '0')}`))];
    const status = nextClusterStatus(undefined, ctx, token, namespaces);
    expect(status).to.include({ namespacesSelected: 26, namespacesReady: 1, namespacesFailed: 25 });
    expect(status.failedNamespaces).to.have.length(20);
    expect(status.failedNamespaces?.[0]).to.deep.equal({ namespace: 'n00', reason: 'PullSecretConflict', message: 'taken' });
    expect(findCondition(status.conditions, 'Ready')).to.include({ status: 'False', reason: 'NamespacesNotReady' });
    expect(findCondition(status.conditions, 'Stalled')).to.include({ status: 'True', reason: 'PullSecretConflict' });
  });

  it('does not count namespaces being deleted', () => {
    const status = nextClusterStatus(undefined, ctx, token, [served('a'), { namespace: 'going', served: false, skipped: true }]);
    expect(status).to.include({ namespacesSelected: 1, namespacesReady: 1, namespacesFailed: 0 });
  });

  it('keeps Ready while the held tokens are valid and the refresh fails, with Refreshed=False', () => {
    const failing: ClusterTokenOutcome = { hosts: ['h'], rotated: false, failure: { reason: 'Throttled', message: 'slow down', retryable: true } };
    const status = nextClusterStatus(undefined, ctx, failing, [served('a')]);
    expect(findCondition(status.conditions, 'Ready')).to.include({ status: 'True' });
    expect(findCondition(status.conditions, 'Refreshed')).to.include({ status: 'False', reason: 'Throttled' });
  });

  it('reports the token failure on Ready when no namespace holds a valid token', () => {
    const failing: ClusterTokenOutcome = { hosts: ['h'], rotated: false, failure: { reason: 'CredentialsRejected', message: 'bad keys', retryable: false } };
    const status = nextClusterStatus(undefined, ctx, failing, [{ namespace: 'a', served: false }]);
    expect(findCondition(status.conditions, 'Ready')).to.include({ status: 'False', reason: 'CredentialsRejected' });
    expect(findCondition(status.conditions, 'Stalled')).to.include({ status: 'True', reason: 'CredentialsRejected' });
  });

  it('is not Ready, and Stalled, when it cannot get a token even though it selects no namespace yet', () => {
    const failing: ClusterTokenOutcome = { hosts: ['h'], rotated: false, failure: { reason: 'EndpointNotAllowed', message: 'not allowed', retryable: false } };
    const status = nextClusterStatus(undefined, ctx, failing, []);
    expect(findCondition(status.conditions, 'Ready')).to.include({ status: 'False', reason: 'EndpointNotAllowed' });
    expect(findCondition(status.conditions, 'Stalled')).to.include({ status: 'True', reason: 'EndpointNotAllowed' });
  });

  it('counts failing namespaces in words that agree with the number', () => {
    const status = nextClusterStatus(undefined, ctx, token, [served('a'), conflict('b')]);
    expect(findCondition(status.conditions, 'Stalled')?.message).to.match(/^1 namespace holds no valid pull secret/);
  });

  it('says deletion waits for the ImageImports that use it', () => {
    const status = nextClusterStatus(undefined, { ...ctx, inUseBy: ['team-a/app'] }, token, [served('team-a')]);
    expect(status.inUseBy).to.deep.equal([{ namespace: 'team-a', name: 'app' }]);
    expect(findCondition(status.conditions, 'Deleting')).to.include({ status: 'True', reason: 'InUse' });
  });
});
