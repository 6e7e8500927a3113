import type { V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import { pullCredentials } from '../../../src/imageimport/pull-credentials.ts';
import { renderDockerConfigJson } from '../../../src/registry/docker-config.ts';

const HOST = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const owner = { kind: 'EcrRegistry', name: 'prod', metadata: { uid: 'registry-uid' } };

function secret(auths: string, owner = 'registry-uid'): V1Secret {
  return {
    metadata: {
      name: 'prod',
      labels: { 'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator' },
      ownerReferences: [{ apiVersion: 'ecr.pullsecrets.io/v1alpha1', kind: 'EcrRegistry', name: 'prod', uid: owner, controller: true }],
    },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(auths).toString('base64') },
  };
}

describe('pullCredentials', () => {
  it('reads the login for the registry host from the registry pull secret', () => {
    const result = pullCredentials(secret(renderDockerConfigJson([HOST], { username: 'AWS', password: 'pw' })), 'prod', owner, HOST);
    expect(result).to.deep.equal({ ok: true, credentials: { username: 'AWS', password: 'pw' } });
  });

  it('accepts a host written with https://', () => {
    const result = pullCredentials(secret(JSON.stringify({ auths: { [`https://${HOST}`]: { username: 'AWS', password: 'pw' } } })), 'prod', owner, HOST);
    expect(result.ok).to.equal(true);
  });

  it('refuses a Secret the registry does not own, a missing one, and one without the host', () => {
    expect(pullCredentials(secret(renderDockerConfigJson([HOST], { username: 'AWS', password: 'pw' }), 'other'), 'prod', owner, HOST)).to.include({ ok: false });
    expect(pullCredentials(undefined, 'prod', owner, HOST)).to.deep.equal({ ok: false, message: 'pull secret prod does not exist' });
    const other = pullCredentials(secret(renderDockerConfigJson(['222233334444.dkr.ecr.us-east-1.amazonaws.com'], { username: 'AWS', password: 'pw' })), 'prod', owner, HOST);
    expect(other).to.deep.equal({ ok: false, message: `pull secret prod has no login for ${HOST}` });
  });
});
