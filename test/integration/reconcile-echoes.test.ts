import { expect } from 'chai';
import type { ControllerMetrics } from '../../src/runtime/controller.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, createCredentialsSecret, createRegistry, readSecret } from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const REGISTRIES = 60;
const PER_CREDENTIALS = 6;

/**
 * The echoes of the operator's own writes requeue nothing. A pull secret's watch event often arrives
 * before the answer to the write that made it; taken for someone else's change, it cost a second
 * reconcile of the registry: 1,564 reconciles for 1,000 registries in `npm run bench` (issue 15).
 */
describe('reconciles per registry: the echoes of its own writes', function () {
  this.timeout(90_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  let namespace: string;
  const reconciles: string[] = [];
  const metrics: ControllerMetrics = {
    reconcileFinished: (controller, outcome) => {
      if (controller === 'ecrregistry') reconciles.push(outcome);
    },
    queueDepth: () => {},
  };

  before(async () => {
    emulator = await EcrEmulator.start();
    namespace = await createTestNamespace('echoes');
    operator = await startTestOperator({ allowedEndpoints: [emulator.url], namespaces: [namespace] }, { metrics });
  });

  after(async () => {
    await operator?.stop();
    await emulator?.stop();
    if (namespace) await deleteTestNamespace(namespace);
  });

  it(`serves ${REGISTRIES} registries created at once in one reconcile each`, async () => {
    for (let set = 0; set < REGISTRIES / PER_CREDENTIALS; set++) {
      const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
      await createCredentialsSecret(namespace, `keys-${set}`, { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });
    }
    await Promise.all(
      Array.from({ length: REGISTRIES }, (_, i) =>
        createRegistry(namespace, `reg-${i}`, { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: `keys-${Math.floor(i / PER_CREDENTIALS)}` } } }),
      ),
    );
    await eventually(
      async () => {
        const secrets = await adminClients().core.listNamespacedSecret({ namespace, labelSelector: 'app.kubernetes.io/managed-by=ecr-pullsecrets-operator' });
        expect(secrets.items).to.have.length(REGISTRIES);
      },
      { timeoutMs: 60_000, message: 'every pull secret written' },
    );
    expect(await readSecret(namespace, 'reg-0')).to.not.equal(undefined);
    // Let the last echoes arrive and any requeue run.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(reconciles.filter((o) => o === 'error'), 'failed reconciles').to.deep.equal([]);
    // A few may be requeued for other reasons (a credentials Secret's watch starting); echoes would add about half again.
    expect(reconciles.length, `${reconciles.length} reconciles for ${REGISTRIES} registries`).to.be.within(REGISTRIES, REGISTRIES + REGISTRIES / 10);
  });
});
