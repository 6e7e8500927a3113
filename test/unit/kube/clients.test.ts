import { KubeConfig, RequestContext } from '@kubernetes/client-node';
import { expect } from 'chai';
import { AUTH_HEADERS_TTL_MS, sharedPoolAuthentication } from '../../../src/kube/clients.ts';

/** A kubeconfig with a bearer token, and a TLS setting so that client-node makes a dispatcher. */
function tokenKubeConfig(token: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', skipTLSVerify: true }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kubeConfig;
}

describe('sharedPoolAuthentication', () => {
  let nowMs: number;
  const now = () => nowMs;
  beforeEach(() => {
    nowMs = 1_000;
  });

  async function apply(kubeConfig: KubeConfig) {
    const context = new RequestContext('https://127.0.0.1:6443/api/v1/secrets', 'GET');
    context.setHeaderParam('Accept', 'application/json');
    await sharedPoolAuthentication(kubeConfig, now).applySecurityAuthentication(context);
    return context;
  }

  it("asks client-node once per TTL, and gives every request its headers and the first request's dispatcher", async () => {
    const kubeConfig = tokenKubeConfig('first');
    let computed = 0;
    const original = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
    kubeConfig.applySecurityAuthentication = (context) => {
      computed++;
      return original(context);
    };
    const first = await apply(kubeConfig);
    const next = await Promise.all(Array.from({ length: 50 }, () => apply(kubeConfig)));
    expect(computed).to.equal(1);
    expect(first.getDispatcher()).to.not.equal(undefined);
    for (const context of next) {
      expect(context.getHeaders()).to.deep.equal({ Accept: 'application/json', Authorization: 'Bearer first' });
      expect(context.getDispatcher()).to.equal(first.getDispatcher());
    }
  });

  it('reads a changed token once the TTL has passed, over the same pool', async () => {
    const kubeConfig = tokenKubeConfig('first');
    const first = await apply(kubeConfig);
    // Stands in for a credential that changed (a rotated token file, a new exec credential); client-node types it read-only.
    (kubeConfig.getCurrentUser() as { token?: string }).token = 'rotated';
    nowMs += AUTH_HEADERS_TTL_MS - 1;
    expect((await apply(kubeConfig)).getHeaders().Authorization).to.equal('Bearer first');
    nowMs += 1;
    const later = await apply(kubeConfig);
    expect(later.getHeaders().Authorization).to.equal('Bearer rotated');
    expect(later.getDispatcher()).to.equal(first.getDispatcher());
  });

  it('is one authentication per KubeConfig', () => {
    const kubeConfig = tokenKubeConfig('first');
    expect(sharedPoolAuthentication(kubeConfig)).to.equal(sharedPoolAuthentication(kubeConfig));
    expect(sharedPoolAuthentication(kubeConfig)).to.not.equal(sharedPoolAuthentication(tokenKubeConfig('first')));
  });
});
