import { expect } from 'chai';
import { matches, requestInfo } from '../../support/fault-proxy.ts';

const info = (method: string, url: string) => requestInfo({ method, url }, 'replica-a');

describe('the fault proxy reads requests as the apiserver does', () => {
  it('tells verbs apart by method, name and the watch parameter', () => {
    expect(info('GET', '/api/v1/namespaces/team/secrets/pull')).to.include({ verb: 'get', resource: 'secrets', namespace: 'team', name: 'pull' });
    expect(info('GET', '/api/v1/namespaces/team/secrets?labelSelector=a%3Db')).to.include({ verb: 'list', resource: 'secrets', namespace: 'team' });
    expect(info('GET', '/api/v1/namespaces/team/secrets?watch=true&resourceVersion=10')).to.include({ verb: 'watch', resource: 'secrets' });
    expect(info('GET', '/api/v1/secrets?watch=1')).to.include({ verb: 'watch', resource: 'secrets' }).and.not.have.property('namespace');
    expect(info('POST', '/apis/events.k8s.io/v1/namespaces/team/events')).to.include({ verb: 'create', resource: 'events' });
    expect(info('PUT', '/apis/coordination.k8s.io/v1/namespaces/system/leases/operator')).to.include({ verb: 'update', resource: 'leases', name: 'operator' });
    expect(info('DELETE', '/api/v1/namespaces/team/secrets/pull')).to.include({ verb: 'delete' });
    expect(info('DELETE', '/api/v1/namespaces/team/secrets')).to.include({ verb: 'deletecollection' });
  });

  it('names a subresource after its resource, and a Namespace as the resource it is', () => {
    expect(info('PATCH', '/apis/ecr.pullsecrets.io/v1alpha1/namespaces/team/ecrregistries/main/status')).to.include({ verb: 'patch', resource: 'ecrregistries/status', name: 'main' });
    expect(info('POST', '/api/v1/namespaces/team/serviceaccounts/builder/token')).to.include({ resource: 'serviceaccounts/token', name: 'builder' });
    expect(info('GET', '/api/v1/namespaces/team')).to.include({ verb: 'get', resource: 'namespaces', name: 'team' }).and.not.have.property('namespace');
    expect(info('PUT', '/api/v1/namespaces/team/finalize')).to.include({ verb: 'update', resource: 'namespaces/finalize', name: 'team' });
    expect(info('GET', '/readyz')).to.include({ verb: 'get', resource: '', path: '/readyz' });
  });

  it('matches on every field given, lists as alternatives, and writes as a class', () => {
    const patch = info('PATCH', '/apis/ecr.pullsecrets.io/v1alpha1/namespaces/team/ecrregistries/main/status');
    expect(matches({}, patch)).to.equal(true);
    expect(matches({ client: 'replica-a', write: true }, patch)).to.equal(true);
    expect(matches({ client: ['replica-b'] }, patch)).to.equal(false);
    expect(matches({ resource: 'ecrregistries' }, patch), 'a subresource is its own resource').to.equal(false);
    expect(matches({ resource: ['secrets', 'ecrregistries/status'], verb: ['update', 'patch'] }, patch)).to.equal(true);
    expect(matches({ write: false }, patch)).to.equal(false);
    expect(matches({ namespace: 'other' }, patch)).to.equal(false);
  });
});
