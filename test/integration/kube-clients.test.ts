import diagnosticsChannel from 'node:diagnostics_channel';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { API_GROUP, API_VERSION, ECR_REGISTRY } from '../../src/api/group.ts';
import { createKubeClients, mergePatch } from '../../src/kube/clients.ts';
import { apiStatus, describeApiError, isConflict, isNotFound } from '../../src/kube/errors.ts';
import { testEnv } from '../support/env.ts';

/** Counts the TCP connections undici opens to the test apiserver while `fn` runs. */
async function connectionsOpenedDuring(fn: () => Promise<void>): Promise<number> {
  const port = String(new URL(testEnv().server).port);
  let opened = 0;
  const onConnected = (message: unknown) => {
    const params = (message as { connectParams?: { port?: string | number } }).connectParams;
    if (String(params?.port) === port) opened++;
  };
  diagnosticsChannel.subscribe('undici:client:connected', onConnected);
  try {
    await fn();
  } finally {
    diagnosticsChannel.unsubscribe('undici:client:connected', onConnected);
  }
  return opened;
}

describe('the Kubernetes API clients', () => {
  it('send sequential requests from every client of one KubeConfig over one kept-alive connection', async () => {
    const clients = createKubeClients(testEnv().kubeConfig());
    const opened = await connectionsOpenedDuring(async () => {
      for (let i = 0; i < 20; i++) await clients.core.readNamespace({ name: 'default' });
      await clients.customObjects.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural });
      await clients.events.listEventForAllNamespaces({ limit: 1 });
    });
    expect(opened).to.equal(1);
  });

  it('open no more connections than requests in flight', async () => {
    const { core } = createKubeClients(testEnv().kubeConfig());
    const opened = await connectionsOpenedDuring(async () => {
      for (let round = 0; round < 5; round++) await Promise.all(Array.from({ length: 4 }, () => core.readNamespace({ name: 'default' })));
    });
    expect(opened).to.be.within(1, 4);
  });

  it('carry bodies, patch types, answers and API errors through the transport as client-node does', async () => {
    const { core } = createKubeClients(testEnv().kubeConfig());
    const name = `transport-${Date.now()}`;
    const created = await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name, labels: { a: 'b' } }, stringData: { key: 'é'.repeat(3000) } } });
    expect(created.metadata?.uid).to.be.a('string');
    const patched = await core.patchNamespacedSecret({ namespace: 'default', name, body: { metadata: { labels: { a: null, c: 'd' } } } }, mergePatch());
    expect(patched.metadata?.labels).to.deep.equal({ c: 'd' });
    expect(Buffer.from(patched.data!.key!, 'base64').toString('utf8')).to.equal('é'.repeat(3000));

    const conflict = await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name } } }).catch((error: unknown) => error);
    expect(conflict).to.be.instanceOf(ApiException);
    expect(isConflict(conflict), describeApiError(conflict)).to.equal(true);
    expect(describeApiError(conflict)).to.equal(`Kubernetes API returned 409: secrets "${name}" already exists`);
    expect((conflict as ApiException<unknown>).headers['content-type']).to.equal('application/json');

    await core.deleteNamespacedSecret({ namespace: 'default', name });
    const missing = await core.readNamespacedSecret({ namespace: 'default', name }).catch((error: unknown) => error);
    expect(isNotFound(missing), String(apiStatus(missing))).to.equal(true);
  });

  // Why makeApiClient in src/kube/clients.ts exists; once this fails, client-node pools by itself.
  it("contrast: client-node 2.0's own makeApiClient opens a connection per request", async () => {
    const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
    const opened = await connectionsOpenedDuring(async () => {
      for (let i = 0; i < 5; i++) await core.readNamespace({ name: 'default' });
    });
    expect(opened).to.equal(5);
  });
});
