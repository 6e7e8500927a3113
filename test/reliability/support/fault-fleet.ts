import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi, type V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistrySpec } from '../../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, ECR_REGISTRY, GROUP_VERSION } from '../../../src/api/group.ts';
import { mergePatch } from '../../../src/kube/clients.ts';
import { ANNOTATION_EXPIRES_AT } from '../../../src/registry/pull-secret.ts';
import { parsePrometheusText, samplesOf } from '../../e2e/support/prometheus.ts';
import { freePort } from '../../support/controlplane/ports.ts';
import { type AccessKey, EcrEmulator } from '../../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../../support/env.ts';
import { eventually } from '../../support/eventually.ts';
import { FaultProxy } from '../../support/fault-proxy.ts';
import { OperatorProcess, REPOSITORY_ROOT } from '../../support/operator-process.ts';
import { shippedOperator } from './operator-runs.ts';

/**
 * A world for the reliability campaign's apiserver-fault and leader-loss tests: an ECR emulator on
 * short tokens, N EcrRegistries in a few namespaces sharing credential sets (one Secret and one
 * access key per set), the operator as a separate process (the shipped bundle, as its container runs
 * it: operator-runs.ts) with the shipped RBAC and guardrails, acting as its ServiceAccount through a FaultProxy in
 * front of the apiserver, and the checks every fault ends with: no lost update, no duplicate
 * Secret, all Ready, the work queue drained.
 *
 * ```ts
 * const world = await FaultFleet.start({ prefix: 'faults', registries: 20, perCredentials: 5, namespaces: 2, tokenLifetimeSeconds: 30 });
 * const proxy = await world.startProxy();
 * const operator = await world.startOperator({ name: 'replica-a', proxy, flags: ['--leader-elect=false'] });
 * await world.waitConverged([operator]);
 * ... proxy.inject(...), world.rotateKeys(), ...
 * const state = await world.waitConverged([operator]);  // throws with the problems left if it never holds
 * await world.stop();
 * ```
 */

export const ACCOUNT = '210987654321';
export const REGION = 'eu-west-1';
export const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
/** The shipped install's identity (deploy/serviceaccount.yaml); the guardrails policy matches it. */
export const OPERATOR_NAMESPACE = 'ecr-pullsecrets-system';
export const OPERATOR_SERVICE_ACCOUNT = 'ecr-pullsecrets-operator';

export interface FaultFleetOptions {
  /** Namespace prefix, also naming the log folder. */
  prefix: string;
  registries: number;
  /** Registries per credential set (one credentials Secret and one access key). */
  perCredentials: number;
  namespaces: number;
  tokenLifetimeSeconds: number;
}

export interface CredentialSet {
  namespace: string;
  secretName: string;
  /** The key the Secret holds now; rotateKeys() replaces it. */
  key: AccessKey;
  members: string[];
}

export interface RegistryRef {
  namespace: string;
  name: string;
  set: CredentialSet;
}

/** One look at every registry of the fleet, against the invariants. */
export interface FleetState {
  registries: number;
  ready: number;
  /** Registries whose pull secret holds the newest token the emulator issued for their current key. */
  newest: number;
  /** Registries holding an older token of their current key that is still valid. */
  olderValid: number;
  /** Pull secrets owned by a registry beyond the first (0 is the bar). */
  duplicateSecrets: number;
  /** Each broken invariant, one line per registry. */
  problems: string[];
  /** Sum of ecr_operator_workqueue_depth over controllers, per operator scraped (undefined: no answer). */
  queueDepths: Array<number | undefined>;
}

let rbacInstalled: Promise<void> | undefined;

/** `kubectl apply -k deploy/` once per run: the operator's namespace, ServiceAccount, RBAC and guardrails. */
export function installShippedRbac(): Promise<void> {
  rbacInstalled ??= (async () => {
    const result = await testEnv().kubectl(['apply', '-k', path.join(REPOSITORY_ROOT, 'deploy')]);
    if (result.code !== 0) throw new Error(`kubectl apply -k deploy/ exited ${result.code}:\n${result.stderr}`);
  })();
  return rbacInstalled;
}

export class FaultFleet {
  readonly options: FaultFleetOptions;
  readonly emulator: EcrEmulator;
  readonly namespaces: string[];
  readonly sets: CredentialSet[];
  readonly registries: RegistryRef[];
  readonly logDir: string;
  readonly #proxies: FaultProxy[] = [];
  readonly #operators: OperatorProcess[] = [];

  private constructor(options: FaultFleetOptions, emulator: EcrEmulator, namespaces: string[], sets: CredentialSet[], logDir: string) {
    this.options = options;
    this.emulator = emulator;
    this.namespaces = namespaces;
    this.sets = sets;
    this.registries = sets.flatMap((set) => set.members.map((name) => ({ namespace: set.namespace, name, set })));
    this.logDir = logDir;
  }

  static async start(options: FaultFleetOptions): Promise<FaultFleet> {
    await installShippedRbac();
    const emulator = await EcrEmulator.start({ tokenLifetimeSeconds: options.tokenLifetimeSeconds });
    const logDir = await fs.mkdtemp(path.join(os.tmpdir(), `ecr-reliability-${options.prefix}-`));
    const namespaces: string[] = [];
    for (let i = 0; i < options.namespaces; i++) namespaces.push(await createTestNamespace(`${options.prefix}-${i}`));
    const sets: CredentialSet[] = [];
    for (let i = 0; i < options.registries; i++) {
      const namespace = namespaces[i % namespaces.length]!;
      let set = sets.findLast((s) => s.namespace === namespace);
      if (!set || set.members.length >= options.perCredentials) {
        set = { namespace, secretName: `creds-${sets.length}`, key: emulator.addAccessKey({ accountId: ACCOUNT, region: REGION }), members: [] };
        sets.push(set);
      }
      set.members.push(`registry-${i}`);
    }
    const fleet = new FaultFleet(options, emulator, namespaces, sets, logDir);
    const { core, custom } = adminApis();
    await pool(sets, 8, async (set) => {
      await core.createNamespacedSecret({ namespace: set.namespace, body: { metadata: { name: set.secretName }, stringData: keysOf(set.key) } });
      for (const name of set.members) {
        const spec: EcrRegistrySpec = { registry: HOST, region: REGION, endpoint: emulator.url, credentials: { secretRef: { name: set.secretName } } };
        await custom.createNamespacedCustomObject({ ...registryPath(set.namespace), body: { apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, metadata: { name, namespace: set.namespace }, spec } });
      }
    });
    return fleet;
  }

  /** A proxy in front of the apiserver, closed by stop(). */
  async startProxy(): Promise<FaultProxy> {
    const env = testEnv();
    const proxy = await FaultProxy.start({ target: env.server, caCertPem: env.caCertPem, ...env.servingCertificate() });
    this.#proxies.push(proxy);
    return proxy;
  }

  /**
   * The operator as a separate process named `name`, acting as its ServiceAccount (a TokenRequest token of
   * its own, so the proxy tells replicas apart) through `proxy`, watching the fleet's namespaces only.
   */
  async startOperator(options: { name: string; proxy: FaultProxy; flags?: string[] }): Promise<OperatorProcess> {
    const token = await testEnv().serviceAccountToken(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    options.proxy.registerClient(options.name, token);
    const kubeconfigPath = await options.proxy.writeKubeconfig(path.join(this.logDir, `${options.name}.kubeconfig`), token, options.name);
    // The shipped bundle (Dockerfile ENTRYPOINT, Deployment env) starts in about a second; src/main.ts takes several.
    const shipped = await shippedOperator();
    const operator = await OperatorProcess.start({
      kubeconfigPath,
      allowedEndpoints: [this.emulator.url],
      entry: shipped.entry,
      cwd: shipped.cwd,
      flags: [`--namespaces=${this.namespaces.join(',')}`, '--log-level=info', ...(options.flags ?? [])],
      env: { ...shipped.env, POD_NAME: options.name, POD_NAMESPACE: OPERATOR_NAMESPACE },
      metricsPort: await freePort(),
      healthPort: await freePort(),
      logPath: path.join(this.logDir, `${options.name}.log`),
    });
    this.#operators.push(operator);
    return operator;
  }

  /** Gives every credential set a new access key (the old one keeps working): a refresh wave for every registry. */
  async rotateKeys(): Promise<void> {
    const { core } = adminApis();
    await pool(this.sets, 8, async (set) => {
      const key = this.emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
      const current = await core.readNamespacedSecret({ namespace: set.namespace, name: set.secretName });
      await core.replaceNamespacedSecret({ namespace: set.namespace, name: set.secretName, body: { metadata: current.metadata, stringData: keysOf(key) } });
      set.key = key;
    });
  }

  /** GetAuthorizationToken calls the emulator received, for every set or one key. */
  ecrCalls(accessKeyId?: string): number {
    return this.emulator.callCount({ action: 'GetAuthorizationToken', ...(accessKeyId ? { accessKeyId } : {}) });
  }

  /** Reads every registry and Secret of the fleet (as the admin, around the proxy) and checks the invariants. */
  async state(operators: readonly OperatorProcess[] = []): Promise<FleetState> {
    const { core, custom } = adminApis();
    const registries = new Map<string, EcrRegistry>();
    const secrets: V1Secret[] = [];
    for (const namespace of this.namespaces) {
      const list = (await custom.listNamespacedCustomObject(registryPath(namespace))) as { items: EcrRegistry[] };
      for (const registry of list.items) registries.set(`${namespace}/${registry.metadata.name}`, registry);
      secrets.push(...(await core.listNamespacedSecret({ namespace })).items);
    }
    const state: FleetState = { registries: this.registries.length, ready: 0, newest: 0, olderValid: 0, duplicateSecrets: 0, problems: [], queueDepths: [] };
    const now = Date.now();
    for (const ref of this.registries) {
      const id = `${ref.namespace}/${ref.name}`;
      const problem = (what: string) => state.problems.push(`${id}: ${what}`);
      const registry = registries.get(id);
      if (!registry) {
        problem('the EcrRegistry is gone');
        continue;
      }
      const ready = registry.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True' && registry.status?.observedGeneration === registry.metadata.generation) state.ready += 1;
      else problem(`not Ready at its generation (Ready=${ready?.status} ${ready?.reason}: ${ready?.message})`);
      const owned = secrets.filter((s) => s.metadata?.ownerReferences?.some((o) => o.uid === registry.metadata.uid));
      if (owned.length > 1) state.duplicateSecrets += owned.length - 1;
      if (owned.length !== 1) {
        problem(`owns ${owned.length} Secrets (${owned.map((s) => s.metadata?.name).join(', ')})`);
        continue;
      }
      const secret = owned[0]!;
      if (secret.metadata?.name !== ref.name || registry.status?.pullSecretName !== ref.name) {
        problem(`pull secret ${secret.metadata?.name}, status names ${registry.status?.pullSecretName}`);
      }
      let password: string;
      try {
        password = dockerPassword(secret);
      } catch (error) {
        problem(`pull secret unreadable: ${(error as Error).message}`);
        continue;
      }
      const token = this.emulator.tokenInfo(password);
      if (!token) {
        problem('pull secret holds a token the emulator never issued');
        continue;
      }
      if (token.accessKeyId !== ref.set.key.accessKeyId) problem(`lost update: holds a token of ${token.accessKeyId}, the credentials Secret holds ${ref.set.key.accessKeyId}`);
      if (token.expiresAt.getTime() <= now) problem(`holds an expired token (expired ${token.expiresAt.toISOString()})`);
      const annotated = Date.parse(secret.metadata?.annotations?.[ANNOTATION_EXPIRES_AT] ?? '');
      const recorded = Date.parse(registry.status?.expirationTime ?? '');
      if (annotated !== recorded) problem(`status says it expires ${registry.status?.expirationTime}, the Secret says ${secret.metadata?.annotations?.[ANNOTATION_EXPIRES_AT]}`);
      if (!(recorded <= token.expiresAt.getTime() && recorded > token.expiresAt.getTime() - 1_000)) {
        problem(`status expiry ${registry.status?.expirationTime} is not the token's (${token.expiresAt.toISOString()})`);
      }
      if (this.emulator.latestToken(ref.set.key.accessKeyId)?.password === password) state.newest += 1;
      else if (token.accessKeyId === ref.set.key.accessKeyId && token.expiresAt.getTime() > now) state.olderValid += 1;
    }
    for (const operator of operators) state.queueDepths.push(await queueDepth(operator));
    for (const [i, depth] of state.queueDepths.entries()) {
      if (depth !== 0) state.problems.push(`operator ${i}: work queue depth ${depth ?? 'unknown (no /metrics)'}`);
    }
    return state;
  }

  /** Waits until state() reports no problem; fails with the problems left when it does not within `timeoutMs`. */
  async waitConverged(operators: readonly OperatorProcess[], timeoutMs = 60_000): Promise<FleetState & { tookMs: number }> {
    const started = performance.now();
    const state = await eventually(
      async () => {
        for (const operator of operators) operator.assertRunning();
        const state = await this.state(operators);
        if (state.problems.length > 0) throw new Error(`${state.problems.length} problems:\n  ${state.problems.slice(0, 8).join('\n  ')}`);
        return state;
      },
      { timeoutMs, intervalMs: 250, message: 'every registry Ready with its one pull secret holding a current token, and the queue drained' },
    );
    return { ...state, tookMs: Math.round(performance.now() - started) };
  }

  /**
   * Deletes the registries, so no other test's operator finds them: while an operator still runs it
   * removes its finalizers; otherwise they are stripped as the admin. Then stops everything.
   */
  async stop(): Promise<void> {
    const running = this.#operators.filter((o) => o.running);
    try {
      const { custom } = adminApis();
      if (running.length === 0) {
        await pool(this.registries, 8, (ref) =>
          custom.patchNamespacedCustomObject({ ...registryPath(ref.namespace), name: ref.name, body: { metadata: { finalizers: null } } }, mergePatch()).catch(() => undefined),
        );
      }
      await pool(this.registries, 8, (ref) => custom.deleteNamespacedCustomObject({ ...registryPath(ref.namespace), name: ref.name }).catch(() => undefined));
      await eventually(
        async () => {
          for (const namespace of this.namespaces) {
            const left = ((await custom.listNamespacedCustomObject(registryPath(namespace))) as { items: unknown[] }).items.length;
            if (left > 0) throw new Error(`${left} registries left in ${namespace}`);
          }
        },
        { timeoutMs: 30_000, intervalMs: 250, message: 'the fleet is finalized' },
      ).catch((error: Error) => process.stderr.write(`      fleet clean-up: ${error.message}\n`));
    } finally {
      await Promise.all(this.#operators.map((o) => o.stop(10_000)));
      await Promise.all(this.#proxies.map((p) => p.close()));
      await this.emulator.stop();
      for (const namespace of this.namespaces) await deleteTestNamespace(namespace);
      if (process.env.RELIABILITY_KEEP_LOGS !== '1') await fs.rm(this.logDir, { recursive: true, force: true });
    }
  }
}

/** Sum of ecr_operator_workqueue_depth over the operator's controllers; undefined when /metrics does not answer. */
export async function queueDepth(operator: OperatorProcess): Promise<number | undefined> {
  return metricValue(operator, 'ecr_operator_workqueue_depth');
}

/** A series of the operator's /metrics, summed over the label sets that fit `labels`; undefined when /metrics does not answer. */
export async function metricValue(operator: OperatorProcess, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const text = await operator.metricsText();
  if (text === undefined) return undefined;
  return samplesOf(parsePrometheusText(text), name, labels).reduce((sum, s) => sum + s.value, 0);
}

function dockerPassword(secret: V1Secret): string {
  const config = JSON.parse(Buffer.from(secret.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8')) as { auths?: Record<string, { password?: string }> };
  const password = config.auths?.[HOST]?.password;
  if (!password) throw new Error(`no password for ${HOST}`);
  return password;
}

function keysOf(key: AccessKey): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
}

function adminApis() {
  const kubeConfig = testEnv().kubeConfig();
  return { core: kubeConfig.makeApiClient(CoreV1Api), custom: kubeConfig.makeApiClient(CustomObjectsApi) };
}

export function registryPath(namespace: string) {
  return { group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, namespace };
}

/** Runs `job` over `items`, at most `concurrency` at a time. */
export async function pool<T>(items: readonly T[], concurrency: number, job: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await job(items[next++]!);
    }),
  );
}
