import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistryStatus } from '../../src/api/ecr-registry.ts';
import { FIELD_MANAGER } from '../../src/api/group.ts';
import type { EcrAuthorization } from '../../src/aws/ecr-token.ts';
import { createKubeClients, mergePatch } from '../../src/kube/clients.ts';
import { desiredPullSecret } from '../../src/registry/pull-secret.ts';
import { nextRegistryStatus } from '../../src/registry/registry-status.ts';
import { type Fleet, HOST, listFleet, registryPath, SET_LABEL } from './fleet.ts';
import { runPool } from './pool.ts';

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
 * One pass of the denominator: what the same apiserver takes to absorb the operator's unavoidable writes
 * (one pull Secret and one status patch per registry) from a bare client loop with the operator's
 * concurrency, on the operator's own set of registries while no operator runs. Both bodies come from the
 * operator's own renderers (desiredPullSecret, nextRegistryStatus, its field manager), so the apiserver
 * stores, validates and tracks the same fields on the same objects as in a cold start: the status that
 * the operator reports (two conditions, three timestamps) costs the apiserver more than a one-condition
 * body (about 0.8 CPU-s more at 1,000 in one screening run), and that is not the operator's overhead.
 * The set's registries are listed and the bodies rendered before the clock starts; the caller takes the
 * set back (resetFleet, untimed) before the next pass or cold start. It uses the operator's own client
 * construction, so both sides share the same transport.
 */
export async function bareFleetPass(kubeConfig: KubeConfig, fleet: Fleet, concurrency: number, startCpuMeter: () => () => Record<string, number>): Promise<BareRun> {
  const { core, customObjects: custom } = createKubeClients(kubeConfig);
  const items = await listFleet(kubeConfig, fleet);
  if (items.length !== fleet.registries.length) throw new Error(`set ${fleet.set}: listed ${items.length} registries, expected ${fleet.registries.length}`);
  // Rendered before the clock starts: the bench shares the 2 cores, and its own rendering (base64 of
  // every docker config) would otherwise slow the denominator.
  const bodies = renderPass(items, new Date());
  return timedLoop(bodies, concurrency, startCpuMeter, async ({ namespace, name, secret, status }) => {
    await core.createNamespacedSecret({ namespace, body: secret });
    await custom.patchNamespacedCustomObjectStatus({ ...registryPath(namespace), name, body: { status }, fieldManager: FIELD_MANAGER }, mergePatch());
  });
}

/**
 * The order of a run's bare passes and cold starts: alternating, so that both sides meet the machine as
 * it is over the same minutes, and ending with a cold start, whose operator stays up for the scenarios
 * after it. Surplus passes of either kind come first. (Until 1 December the bare passes all ran first;
 * the apiserver's CPU-seconds for identical writes differ by up to 15% between runs an hour apart, so a
 * drift between the two phases went into the ratio.)
 */
export function interleavedRuns(barePasses: number, coldStarts: number): Array<'bare' | 'cold'> {
  const steps = Math.max(barePasses, coldStarts);
  const order: Array<'bare' | 'cold'> = [];
  for (let i = 0; i < steps; i++) {
    if (i >= steps - barePasses) order.push('bare');
    if (i >= steps - coldStarts) order.push('cold');
  }
  return order;
}

/**
 * The fan-out denominator: one pull-secret-sized Secret created in each of `namespaces` (which exist
 * already), what a ClusterEcrRegistry must write. Same client construction and loop as bareFleetPass,
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

/** The writes for one registry of a pass. */
export interface RegistryWrites extends RenderedWrites {
  namespace: string;
  name: string;
}

/**
 * One pass's bodies, in the registries' order. The pass serves one token, so every Secret holds the same
 * docker config, held once as the operator holds a credential set's: 10,000 copies of it took 150 MiB of
 * the bench's heap, and collecting that heap took 7 CPU-seconds from the shared cores during the timed pass.
 */
export function renderPass(registries: readonly EcrRegistry[], now: Date): RegistryWrites[] {
  let data: V1Secret['data'];
  return registries.map((registry) => {
    const writes = renderedWrites(registry, now);
    data ??= writes.secret.data;
    return { namespace: registry.metadata.namespace!, name: registry.metadata.name!, status: writes.status, secret: { ...writes.secret, data } };
  });
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
