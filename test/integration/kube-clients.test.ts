import diagnosticsChannel from 'node:diagnostics_channel';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { API_GROUP, API_VERSION, ECR_REGISTRY } from '../../src/api/group.ts';
import { createKubeClients } from '../../src/kube/clients.ts';
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

  // Why makeApiClient in src/kube/clients.ts exists; once this fails, client-node pools by itself.
  it("contrast: client-node 2.0's own makeApiClient opens a connection per request", async () => {
    const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
    const opened = await connectionsOpenedDuring(async () => {
      for (let i = 0; i < 5; i++) await core.readNamespace({ name: 'default' });
    });
    expect(opened).to.equal(5);
  });
});
