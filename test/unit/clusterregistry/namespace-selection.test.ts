import { expect } from 'chai';
import { matchesSelector, selectsNamespace } from '../../../src/clusterregistry/namespace-selection.ts';

const ns = (name: string, labels: Record<string, string> = {}, terminating = false) => ({ name, labels: { 'kubernetes.io/metadata.name': name, ...labels }, terminating });

describe('selectsNamespace', () => {
  it('selects namespaces whose labels match the selector', () => {
    const spec = { namespaceSelector: { matchLabels: { team: 'a' } } };
    expect(selectsNamespace(spec, ns('one', { team: 'a' }))).to.equal(true);
    expect(selectsNamespace(spec, ns('two', { team: 'b' }))).to.equal(false);
  });

  it('selects nothing with an empty selector and no list', () => {
    expect(selectsNamespace({ namespaceSelector: {} }, ns('any'))).to.equal(false);
    expect(selectsNamespace({}, ns('any'))).to.equal(false);
    expect(selectsNamespace({ namespaceSelector: { matchLabels: {}, matchExpressions: [] } }, ns('any'))).to.equal(false);
  });

  it('selects every namespace with the documented Exists on kubernetes.io/metadata.name', () => {
    const spec = { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'Exists' as const }] } };
    expect(selectsNamespace(spec, ns('kube-public'))).to.equal(true);
  });

  it('selects listed namespaces in addition to the selector', () => {
    const spec = { namespaceSelector: { matchLabels: { team: 'a' } }, namespaces: ['shared'] };
    expect(selectsNamespace(spec, ns('shared'))).to.equal(true);
  });

  it('never selects an excluded namespace, whatever selects it', () => {
    const spec = { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'Exists' as const }] }, namespaces: ['kube-system'], excludeNamespaces: ['kube-system'] };
    expect(selectsNamespace(spec, ns('kube-system'))).to.equal(false);
  });

  it('skips a terminating namespace', () => {
    expect(selectsNamespace({ namespaces: ['going'] }, ns('going', {}, true))).to.equal(false);
  });
});

describe('matchesSelector', () => {
  const labels = { team: 'a', tier: 'prod' };
  it('ANDs matchLabels and every expression', () => {
    expect(matchesSelector({ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['prod', 'stage'] }] }, labels)).to.equal(true);
    expect(matchesSelector({ matchLabels: { team: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['stage'] }] }, labels)).to.equal(false);
  });

  it('follows NotIn, Exists and DoesNotExist as Kubernetes does', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['dev'] }] }, labels)).to.equal(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['x'] }] }, labels)).to.equal(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, labels)).to.equal(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, labels)).to.equal(false);
  });
});
