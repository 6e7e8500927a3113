import { randomBytes } from 'node:crypto';
import { CoreV1Api } from '@kubernetes/client-node';
import { apiStatusCode, type ControlPlane, startControlPlane } from './controlplane/index.ts';

/**
 * Mocha root hooks for test/integration: ONE control plane per run, started before the first
 * test and stopped after the last. Tests reach it through testEnv().
 */
let controlPlane: ControlPlane | undefined;

/** Locating binaries may mean a cold build (~15 min) when `npm run controlplane` was skipped. */
const startHookTimeoutMs = 30 * 60_000;

export const mochaHooks: Mocha.RootHookObject = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(startHookTimeoutMs);
    controlPlane = await startControlPlane({ keepTempDir: process.env.CONTROLPLANE_KEEP_TMP === '1' });
    process.stderr.write(
      `control plane: ${controlPlane.server} ready in ${controlPlane.startupMs} ms (kubeconfig ${controlPlane.kubeconfigPath})\n`,
    );
  },
  afterEach() {
    // A crashed etcd or apiserver fails the test that saw it, with the process's log.
    controlPlane?.assertRunning();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    const running = controlPlane;
    controlPlane = undefined;
    await running?.stop();
    reportWhatKeepsNodeAlive(10_000);
  },
};

/** The running control plane; only valid inside tests and hooks of the integration suite. */
export function testEnv(): ControlPlane {
  if (controlPlane === undefined) {
    throw new Error('no control plane: run integration tests with --config test/integration/.mocharc.json');
  }
  return controlPlane;
}

/**
 * Creates a namespace named `<prefix>-<random>` and returns its name. Pair it with
 * deleteTestNamespace() in afterEach/after.
 */
export async function createTestNamespace(prefix: string): Promise<string> {
  const base = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'test';
  const name = `${base}-${randomBytes(4).toString('hex')}`;
  const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { 'ecr-operator.test/namespace': 'true' } } } });
  return name;
}

/**
 * Deletes a test namespace. A bare apiserver runs no namespace controller, so the namespace is
 * only marked Terminating and its objects stay; unique names keep tests apart regardless.
 */
export async function deleteTestNamespace(name: string): Promise<void> {
  const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
  try {
    await core.deleteNamespace({ name });
  } catch (error) {
    if (apiStatusCode(error) !== 404) throw error;
  }
}

/**
 * Mocha (without `exit`) waits for the event loop to drain. If a test left a server, informer or
 * timer running, say so instead of hanging silently; the unref'd timer itself keeps nothing alive.
 */
function reportWhatKeepsNodeAlive(afterMs: number): void {
  setTimeout(() => {
    const counts = new Map<string, number>();
    for (const resource of process.getActiveResourcesInfo()) counts.set(resource, (counts.get(resource) ?? 0) + 1);
    const summary = [...counts].map(([resource, count]) => `${resource} x${count}`).join(', ');
    process.stderr.write(
      `integration run still alive ${afterMs} ms after the last test; what keeps it alive: ${summary} ` +
        '(stdio pipes show as PipeWrap/TTYWrap; a Timeout is a timer some test did not clear)\n',
    );
  }, afterMs).unref();
}
