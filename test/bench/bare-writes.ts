import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistrySpec, EcrRegistryStatus } from '../../src/api/ecr-registry.ts';
import { ECR_REGISTRY, FIELD_MANAGER, GROUP_VERSION } from '../../src/api/group.ts';
import type { EcrAuthorization } from '../../src/aws/ecr-token.ts';
import { createKubeClients, mergePatch } from '../../src/kube/clients.ts';
import { desiredPullSecret } from '../../src/registry/pull-secret.ts';
import { nextRegistryStatus } from '../../src/registry/registry-status.ts';
import { HOST, registryPath, SET_LABEL } from './fleet.ts';
import { runPool } from './pool.ts';

const NAMESPACE = 'bench-bare';
/** Parallel deletes while cleaning up (not timed). */
const CLEANUP_CONCURRENCY = 16;

/** One timed pass of a bare loop. */
export interface BareRun {
  ms: number;
  cpuSeconds: Record<string, number>;
}

/** The passes of a bare loop, and the fastest pass: the denominator. */
export interface BareResult extends BareRun {
  writes: number;
  runs: BareRun[];
}

/**
 * The fastest pass. One pass on a shared machine varied from 5.2 to 8.0 s for identical work at 1,000,
 * and the machine's other load only ever adds time. At 10,000 the later passes were also slower every
 * time (45.4, 67.5, 68.7 s; 44.9, 52.8, 62.5 s): the control plane is still digesting the previous pass's
 * 10,000 deletes. The median would then have flattered the operator; the fastest pass cannot.
 */
export function fastestRun<T extends { ms: number }>(runs: readonly T[]): T {
  if (runs.length === 0) throw new Error('no bare pass ran');
  return runs.reduce((fastest, run) => (run.ms < fastest.ms ? run : fastest));
}

/**
 * The denominator: what the same apiserver takes to absorb the operator's unavoidable writes (one
 * pull Secret and one status patch per registry) from a bare client loop with the operator's concurrency.
 * Both bodies come from the operator's own renderers (desiredPullSecret, nextRegistryStatus, its field
 * manager), so the apiserver stores, validates and tracks the same fields on both sides: the status that
 * the operator reports (two conditions, three timestamps) costs the apiserver more than a one-condition
 * body (about 0.8 CPU-s more at 1,000 in one screening run), and that is not the operator's overhead.
 * The registries it patches are created first, untimed, with `spec`, the spec of the operator's
 * registries, so each status patch meets the same fields (the CRD's CEL rules check region and endpoint
 * too); the loop then runs `passes` times, with its Secrets deleted (untimed) between passes, so each
 * pass creates them anew and patches a status that differs from the last. Everything is deleted afterwards.
 * It uses the operator's own client construction, so both sides share the same transport.
 */
export async function bareWrites(
  kubeConfig: KubeConfig,
  spec: EcrRegistrySpec,
  count: number,
  concurrency: number,
  passes: number,
  startCpuMeter: () => () => Record<string, number>,
): Promise<BareResult> {
  const { core, customObjects: custom } = createKubeClients(kubeConfig);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE, labels: { [SET_LABEL]: 'bare' } } } });
  const names = Array.from({ length: count }, (_, i) => `bare-${i}`);
  const registries: EcrRegistry[] = [];
  await runPool(names, 16, async (name) => {
    const created = await custom.createNamespacedCustomObject({
      ...registryPath(NAMESPACE),
      body: {
        apiVersion: GROUP_VERSION,
        kind: ECR_REGISTRY.kind,
        metadata: { name, namespace: NAMESPACE },
        spec,
      },
    });
    registries.push(created as EcrRegistry);
  });
  // Each pass's bodies are rendered before its clock starts: the bench shares the 2 cores, and its own
  // rendering (base64 of every docker config) would otherwise slow the denominator.
  const pass = () => {
    const bodies = renderPass(registries, new Date());
    return timedLoop(names, concurrency, startCpuMeter, async (name) => {
      const { secret, status } = bodies.get(name)!;
      await core.createNamespacedSecret({ namespace: NAMESPACE, body: secret });
      await custom.patchNamespacedCustomObjectStatus({ ...registryPath(NAMESPACE), name, body: { status }, fieldManager: FIELD_MANAGER }, mergePatch());
    });
  };
  const runs = await repeated(passes, () => core.deleteCollectionNamespacedSecret({ namespace: NAMESPACE }), pass);
  await custom.deleteCollectionNamespacedCustomObject({ ...registryPath(NAMESPACE) });
  await core.deleteCollectionNamespacedSecret({ namespace: NAMESPACE });
  return { ...fastestRun(runs), runs, writes: count * 2 };
}

/**
 * The fan-out denominator: one pull-secret-sized Secret created in each of `namespaces` (which exist
 * already), what a ClusterEcrRegistry must write. Same client construction and loop as bareWrites,
 * `passes` times; the Secrets are deleted after each pass, untimed.
 */
export async function bareFanoutWrites(
  kubeConfig: KubeConfig,
  namespaces: readonly string[],
  concurrency: number,
  passes: number,
  startCpuMeter: () => () => Record<string, number>,
): Promise<BareResult> {
  const { core } = createKubeClients(kubeConfig);
  const name = 'bare-pull';
  const secret = barePullSecret();
  const cleanUp = () =>
    runPool(namespaces, CLEANUP_CONCURRENCY, async (namespace) => {
      await core.deleteNamespacedSecret({ namespace, name });
    });
  const pass = () => timedLoop(namespaces, concurrency, startCpuMeter, async (namespace) => {
    await core.createNamespacedSecret({ namespace, body: secret(name) });
  });
  const runs = await repeated(passes, cleanUp, pass);
  await cleanUp();
  return { ...fastestRun(runs), runs, writes: namespaces.length };
}

/** `pass` run `passes` times, with `between` (untimed) before each pass but the first. */
export async function repeated<T>(passes: number, between: () => Promise<unknown>, pass: () => Promise<T>): Promise<T[]> {
  const runs: T[] = [];
  for (let i = 0; i < passes; i++) {
    if (i > 0) await between();
    runs.push(await pass());
  }
  return runs;
}

/** An ECR token's lifetime (12 h); the password has about a real token's size. */
const TOKEN_LIFETIME_MS = 12 * 3600_000;
const BENCH_PASSWORD = 'x'.repeat(2400);
const BENCH_FINGERPRINT = 'bench';

interface RenderedWrites {
  secret: V1Secret;
  status: EcrRegistryStatus;
}

/**
 * One pass's bodies by registry name. The pass serves one token, so every Secret holds the same docker
 * config, held once as the operator holds a credential set's: 10,000 copies of it took 150 MiB of the
 * bench's heap, and collecting that heap took 7 CPU-seconds from the shared cores during the timed pass.
 */
export function renderPass(registries: readonly EcrRegistry[], now: Date): Map<string, RenderedWrites> {
  const bodies = new Map<string, RenderedWrites>();
  let data: V1Secret['data'];
  for (const registry of registries) {
    const writes = renderedWrites(registry, now);
    data ??= writes.secret.data;
    bodies.set(registry.metadata.name!, { status: writes.status, secret: { ...writes.secret, data } });
  }
  return bodies;
}

/** The pull Secret and the status the operator writes for `registry` when it serves a token issued at `now`. */
export function renderedWrites(registry: EcrRegistry, now: Date): RenderedWrites {
  const name = registry.metadata.name!;
  const token: EcrAuthorization = { username: 'AWS', password: BENCH_PASSWORD, issuedAt: now, expiresAt: new Date(now.getTime() + TOKEN_LIFETIME_MS) };
  const served = { secretName: name, token, nextRefresh: new Date(now.getTime() + TOKEN_LIFETIME_MS / 2) };
  return {
    secret: desiredPullSecret(registry, [HOST], token, BENCH_FINGERPRINT),
    status: nextRegistryStatus(undefined, { generation: registry.metadata.generation, now, pullSecretName: name }, { served, rotated: true }, undefined),
  };
}

/** A dockerconfigjson Secret the size of a real pull secret: a base64 ECR token is about 2.5 kB. */
function barePullSecret(): (name: string) => V1Secret {
  const password = BENCH_PASSWORD;
  const dockerConfig = JSON.stringify({ auths: { [HOST]: { username: 'AWS', password, auth: Buffer.from(`AWS:${password}`).toString('base64') } } });
  return (name) => ({ metadata: { name, labels: { [SET_LABEL]: 'bare' } }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerConfig } });
}

/** The timed part of a bare loop: `write` over `items` at `concurrency`, with CPU metered over exactly that span. */
async function timedLoop<T>(
  items: readonly T[],
  concurrency: number,
  startCpuMeter: () => () => Record<string, number>,
  write: (item: T) => Promise<void>,
): Promise<BareRun> {
  const stopCpuMeter = startCpuMeter();
  const started = performance.now();
  await runPool(items, concurrency, write);
  const ms = performance.now() - started;
  return { ms, cpuSeconds: stopCpuMeter() };
}

/** Each pass's time in seconds, in the order the passes ran. */
export function passSeconds(result: { runs: readonly BareRun[] }): number[] {
  return result.runs.map((run) => Math.round(run.ms / 10) / 100);
}
