import { randomBytes } from 'node:crypto';
import type { EventsV1Event, V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ClusterEcrRegistrySpec } from '../../src/api/cluster-ecr-registry.ts';
import type { EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, ECR_REGISTRY, GROUP_VERSION, IMAGE_IMPORT, MANAGED_BY_LABEL } from '../../src/api/group.ts';
import type { ImageImportSpec } from '../../src/api/image-import.ts';
import type { Condition } from '../../src/api/meta.ts';
import { findCondition } from '../../src/runtime/conditions.ts';
import { apiErrorMessage, apiStatusCode } from './controlplane/index.ts';
import { type AccessKey, EcrEmulator } from './ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace } from './env.ts';
import { eventually } from './eventually.ts';
import { adminClients, createCredentialsSecret, pullSecretPassword, readSecret } from './fixtures.ts';
import { startTestOperator, type TestOperator } from './operator.ts';
import { recordScore, reliabilityProfile } from './scorecard.ts';

/**
 * The bad-input corpus of issue 14, run against the real apiserver with the operator's controllers
 * running: every case ends either rejected at admission with a clear message, or accepted and reported
 * through a condition and an Event that say what to do. Around every case the harness checks that a
 * canary EcrRegistry in another namespace keeps being served and that no Secret the operator does not
 * own changed. The cases are in test/integration/fixtures/bad-inputs.ts.
 */

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
export const CREDENTIALS = 'aws-keys';
/** Short tokens, so that the canary (and every working case) rotates while the corpus runs. */
const TOKEN_SECONDS = 20;
/** Cases set up and judged at once; the rest wait for a slot. */
const CASES_AT_ONCE = 12;

export type Tier = 'fast' | 'full';
export type Outcome = 'rejected' | 'reported';
type Kind = typeof ECR_REGISTRY.kind | typeof IMAGE_IMPORT.kind | typeof CLUSTER_ECR_REGISTRY.kind;

export interface BadInputCase {
  /** Short, unique; also the case namespace's prefix. */
  id: string;
  /** The input class: one row of the scorecard. */
  class: string;
  title: string;
  /** `fast` cases run inside `npm test`; `full` ones only under `npm run test:reliability`. */
  tier: Tier;
  /** Runs alone, after every other case, so that what it measures is its own (the Event flood). */
  alone?: boolean;
  run(ctx: CaseContext): Promise<void>;
}

export interface ConditionExpectation {
  type?: string;
  status: 'True' | 'False';
  reason: string;
  /** Fragments the message must contain. */
  message?: Array<string | RegExp>;
}

export interface EventExpectation {
  type?: 'Warning' | 'Normal';
  reason: string;
  note?: Array<string | RegExp>;
}

/** What a case does and asserts through; one per case. */
export class CaseContext {
  readonly world: World;
  readonly namespace: string;
  readonly outcomes = new Set<Outcome>();
  /** `namespace/name` of every Secret this case made that the operator must never change, as first read. */
  readonly foreign = new Map<string, V1Secret>();

  constructor(world: World, namespace: string) {
    this.world = world;
    this.namespace = namespace;
  }

  get emulator(): EcrEmulator {
    return this.world.emulator;
  }

  newKey(): AccessKey {
    return this.world.newKey();
  }

  /** A fresh name for cluster-scoped objects and ECR repositories. */
  unique(prefix: string): string {
    return `${prefix}-${randomBytes(3).toString('hex')}`;
  }

  spec(extra: Partial<EcrRegistrySpec> = {}): EcrRegistrySpec {
    return { registry: HOST, endpoint: this.emulator.url, credentials: { secretRef: { name: CREDENTIALS } }, ...extra };
  }

  /** Creates a Secret the operator does not own; the harness checks after the case that it is byte-for-byte unchanged. */
  async foreignSecret(body: V1Secret, namespace = this.namespace): Promise<V1Secret> {
    const created = await adminClients().core.createNamespacedSecret({ namespace, body });
    this.foreign.set(`${namespace}/${created.metadata!.name}`, created);
    return created;
  }

  /** The AWS keys, as `kubectl create secret generic --from-literal` would store them (stringData). */
  async credentials(values: Record<string, string>, name = CREDENTIALS, namespace = this.namespace): Promise<V1Secret> {
    return this.foreignSecret({ metadata: { name }, stringData: values }, namespace);
  }

  /** The AWS keys as raw base64 under data, exactly as given (so a value can be any bytes). */
  async credentialsData(data: Record<string, string>, extra: Partial<V1Secret> = {}, name = CREDENTIALS): Promise<V1Secret> {
    return this.foreignSecret({ ...extra, metadata: { name }, data });
  }

  keyData(key: AccessKey): Record<string, string> {
    return { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
  }

  async createRegistry(name: string, spec: EcrRegistrySpec, metadata: Record<string, unknown> = {}, namespace = this.namespace): Promise<unknown> {
    const body = { apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, metadata: { ...metadata, name, namespace }, spec };
    return adminClients().custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, namespace, body });
  }

  async createImport(name: string, spec: Partial<ImageImportSpec> & { repository: string }): Promise<unknown> {
    const body = { apiVersion: GROUP_VERSION, kind: IMAGE_IMPORT.kind, metadata: { name, namespace: this.namespace }, spec: { registryRef: { name: 'prod' }, ...spec } };
    return adminClients().custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace: this.namespace, body });
  }

  async createClusterRegistry(name: string, spec: ClusterEcrRegistrySpec): Promise<unknown> {
    this.world.clusterRegistries.add(name);
    const body = { apiVersion: GROUP_VERSION, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name }, spec };
    return adminClients().custom.createClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural, body });
  }

  /** Keys, their Secret and an EcrRegistry `prod` that is Ready: what an ImageImport case starts from. */
  async readyRegistry(name = 'prod'): Promise<AccessKey> {
    const key = this.newKey();
    await this.credentials(this.keyData(key));
    await this.createRegistry(name, this.spec());
    await eventually(async () => expect(findCondition((await this.get(ECR_REGISTRY.kind, name)).status?.conditions, 'Ready')?.status).to.equal('True'), {
      timeoutMs: 30_000,
      message: `EcrRegistry ${name} Ready`,
    });
    return key;
  }

  /** A new repository of this case's own in the emulator. */
  repository(): string {
    const name = `team/${this.unique('app')}`;
    this.emulator.createRepository({ accountId: ACCOUNT, region: REGION, name });
    return name;
  }

  async get(kind: Kind, name: string, namespace = this.namespace): Promise<{ metadata: { generation?: number }; status?: { conditions?: Condition[]; observedGeneration?: number } & Record<string, unknown> }> {
    const { custom } = adminClients();
    const plural = pluralOf(kind);
    const object =
      kind === CLUSTER_ECR_REGISTRY.kind
        ? await custom.getClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural, name })
        : await custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural, namespace, name });
    return object as Awaited<ReturnType<CaseContext['get']>>;
  }

  /**
   * Outcome (a): the apiserver refuses the write, and its message has every fragment. Returns the message.
   */
  async rejected(write: () => Promise<unknown>, ...fragments: Array<string | RegExp>): Promise<string> {
    this.outcomes.add('rejected');
    const error = await write().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error, 'the apiserver accepted what it should have refused').to.not.equal(undefined);
    const status = apiStatusCode(error);
    expect(status, `an API refusal, not ${String(error)}`).to.be.within(400, 499);
    const message = apiErrorMessage(error) ?? '';
    for (const fragment of fragments) expect(message).to.match(asPattern(fragment));
    // A CEL rule that errors at runtime (instead of returning false) would show up like this.
    expect(message).to.not.match(/evaluation error|no such overload|cost budget/i);
    return message;
  }

  /**
   * Outcome (b): the object's condition has this status, reason and message (for its current
   * generation), and a matching Event regards it. Returns the object as read.
   */
  async reported(kind: Kind, name: string, condition: ConditionExpectation, event: EventExpectation, namespace = this.namespace): Promise<Awaited<ReturnType<CaseContext['get']>>> {
    this.outcomes.add('reported');
    const type = condition.type ?? 'Ready';
    const object = await eventually(
      async () => {
        const current = await this.get(kind, name, namespace);
        const found = findCondition(current.status?.conditions, type);
        expect(found, `${kind} ${name} condition ${type}: ${JSON.stringify(current.status?.conditions)}`).to.include({ status: condition.status, reason: condition.reason });
        expect(current.status?.observedGeneration).to.equal(current.metadata.generation);
        for (const fragment of condition.message ?? []) expect(found!.message).to.match(asPattern(fragment));
        return current;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: `${kind} ${namespace}/${name} reports ${type}=${condition.status} ${condition.reason}` },
    );
    await this.expectEvent(kind, name, event, kind === CLUSTER_ECR_REGISTRY.kind ? 'default' : namespace);
    return object;
  }

  async expectEvent(kind: Kind, name: string, event: EventExpectation, namespace = this.namespace): Promise<EventsV1Event> {
    return eventually(
      async () => {
        await this.world.operator.operator.events.flush();
        const events = await this.world.eventsAbout(kind, name, namespace);
        const match = events.find((e) => e.type === (event.type ?? 'Warning') && e.reason === event.reason);
        expect(match, `${event.type ?? 'Warning'} Event ${event.reason} about ${kind} ${name}; got ${events.map((e) => `${e.type}/${e.reason}`).join(', ') || 'none'}`).to.not.equal(undefined);
        for (const fragment of event.note ?? []) expect(match!.note).to.match(asPattern(fragment));
        return match!;
      },
      { timeoutMs: 20_000, intervalMs: 200, message: `Event ${event.reason} about ${kind} ${name}` },
    );
  }

  /** ECR and registry calls the emulator received with this key. */
  calls(key: AccessKey, action?: string): number {
    return this.emulator.callCount({ accessKeyId: key.accessKeyId, ...(action ? { action } : {}) });
  }
}

function pluralOf(kind: Kind): string {
  if (kind === ECR_REGISTRY.kind) return ECR_REGISTRY.plural;
  if (kind === IMAGE_IMPORT.kind) return IMAGE_IMPORT.plural;
  return CLUSTER_ECR_REGISTRY.plural;
}

function asPattern(fragment: string | RegExp): RegExp {
  return typeof fragment === 'string' ? new RegExp(fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : fragment;
}

/** The shared test world: one emulator, one operator, the canary, and what every case leaves behind. */
export class World {
  readonly tier: Tier;
  readonly emulator: EcrEmulator;
  readonly operator: TestOperator;
  readonly canaryNamespace: string;
  readonly namespaces: string[] = [];
  readonly clusterRegistries = new Set<string>();
  /** Keys and tokens the operator handled: none may appear in its logs or Events. */
  readonly secretsSeen = new Set<string>();
  /** Every canary token seen, and whether any sample held an expired one. */
  readonly canaryTokens = new Set<string>();
  readonly canaryExpiredSamples: string[] = [];
  /** Every Secret in the cluster the operator does not own, as it was before the first case. */
  private readonly preexisting = new Map<string, V1Secret>();

  private constructor(tier: Tier, emulator: EcrEmulator, operator: TestOperator, canaryNamespace: string) {
    this.tier = tier;
    this.emulator = emulator;
    this.operator = operator;
    this.canaryNamespace = canaryNamespace;
  }

  static async start(tier: Tier): Promise<World> {
    const emulator = await EcrEmulator.start({ tokenLifetimeSeconds: TOKEN_SECONDS });
    const operator = await startTestOperator({ allowedEndpoints: [emulator.url], stsEndpoint: emulator.url });
    const canaryNamespace = await createTestNamespace('bad-inputs-canary');
    const canaryKey = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    const world = new World(tier, emulator, operator, canaryNamespace);
    world.secretsSeen.add(canaryKey.accessKeyId).add(canaryKey.secretAccessKey);
    await createCredentialsSecret(canaryNamespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: canaryKey.accessKeyId, AWS_SECRET_ACCESS_KEY: canaryKey.secretAccessKey });
    await adminClients().core.createNamespacedServiceAccount({ namespace: canaryNamespace, body: { metadata: { name: 'app' } } });
    const body = {
      apiVersion: GROUP_VERSION,
      kind: ECR_REGISTRY.kind,
      metadata: { name: 'canary', namespace: canaryNamespace },
      spec: { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: CREDENTIALS } }, pullSecret: { serviceAccounts: [{ name: 'app' }] } },
    };
    await adminClients().custom.createNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, namespace: canaryNamespace, body });
    await eventually(() => world.canaryServed(), { timeoutMs: 30_000, message: 'the canary is served' });
    for (const secret of (await adminClients().core.listSecretForAllNamespaces()).items) {
      if (!isOperatorOwned(secret)) world.preexisting.set(`${secret.metadata?.namespace}/${secret.metadata?.name}`, secret);
    }
    return world;
  }

  newKey(): AccessKey {
    const key = this.emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    this.secretsSeen.add(key.accessKeyId).add(key.secretAccessKey);
    return key;
  }

  async namespace(prefix: string): Promise<string> {
    const name = await createTestNamespace(`bad-${prefix}`.slice(0, 40));
    this.namespaces.push(name);
    return name;
  }

  /** The canary's pull secret holds an unexpired token that the registry accepts, and its ServiceAccount names it. */
  async canaryServed(): Promise<void> {
    const secret = await readSecret(this.canaryNamespace, 'canary');
    expect(secret, 'canary pull secret').to.not.equal(undefined);
    const password = pullSecretPassword(secret!, HOST);
    const info = this.emulator.tokenInfo(password);
    expect(info, 'canary token known to ECR').to.not.equal(undefined);
    if (info!.expired) this.canaryExpiredSamples.push(info!.expiresAt.toISOString());
    expect(info!.expired, 'canary token expired').to.equal(false);
    this.canaryTokens.add(password);
    this.secretsSeen.add(password);
    const auth = Buffer.from(`AWS:${password}`).toString('base64');
    const response = await fetch(`${this.emulator.registryUrl(ACCOUNT, REGION)}/v2/`, { headers: { authorization: `Basic ${auth}` } });
    await response.arrayBuffer();
    expect(response.status, 'the registry accepts the canary token').to.equal(200);
    const account = await adminClients().core.readNamespacedServiceAccount({ namespace: this.canaryNamespace, name: 'app' });
    expect((account.imagePullSecrets ?? []).map((ref) => ref.name)).to.include('canary');
  }

  /** Replaces the canary's keys and waits for a token minted with the new ones: it is still reconciled, and at once. */
  async canaryFollowsNewKeys(): Promise<void> {
    const next = this.newKey();
    const { core } = adminClients();
    const current = await core.readNamespacedSecret({ namespace: this.canaryNamespace, name: CREDENTIALS });
    await core.replaceNamespacedSecret({
      namespace: this.canaryNamespace,
      name: CREDENTIALS,
      body: { metadata: current.metadata, stringData: { AWS_ACCESS_KEY_ID: next.accessKeyId, AWS_SECRET_ACCESS_KEY: next.secretAccessKey } },
    });
    await eventually(
      async () => {
        const password = pullSecretPassword((await readSecret(this.canaryNamespace, 'canary'))!, HOST);
        expect(this.emulator.tokenInfo(password)?.accessKeyId).to.equal(next.accessKeyId);
        this.secretsSeen.add(password);
      },
      { timeoutMs: 15_000, message: 'the canary pull secret holds a token of its new keys' },
    );
    await this.canaryServed();
  }

  async eventsAbout(kind: Kind, name: string, namespace: string): Promise<EventsV1Event[]> {
    const { items } = await adminClients().events.listNamespacedEvent({ namespace });
    return items.filter((e) => e.regarding?.kind === kind && e.regarding.name === name);
  }

  /**
   * Every Secret in the case namespaces is either one a case made (unchanged since: same
   * resourceVersion, type and data) or a pull secret the operator owns, labelled as such.
   */
  async assertNoForeignSecretChanged(foreign: ReadonlyMap<string, V1Secret>, namespaces: readonly string[]): Promise<void> {
    const { core } = adminClients();
    for (const [key, before] of foreign) {
      const [namespace, name] = key.split('/') as [string, string];
      const after = await core.readNamespacedSecret({ namespace, name });
      expect({ resourceVersion: after.metadata?.resourceVersion, type: after.type, data: after.data }, `Secret ${key}`).to.deep.equal({
        resourceVersion: before.metadata?.resourceVersion,
        type: before.type,
        data: before.data,
      });
    }
    for (const namespace of namespaces) {
      const { items } = await core.listNamespacedSecret({ namespace });
      for (const secret of items) {
        const key = `${namespace}/${secret.metadata?.name}`;
        if (foreign.has(key)) continue;
        expect(isOperatorOwned(secret), `Secret ${key}, which no case made, must be a pull secret the operator owns and labels`).to.equal(true);
      }
    }
  }

  /** Every Secret the operator does not own that existed before the corpus (the canary's keys, other tests' Secrets) is unchanged. */
  async assertPreexistingSecretsUnchanged(): Promise<number> {
    await this.assertNoForeignSecretChanged(this.preexisting, []);
    return this.preexisting.size;
  }

  /** Deletes what the cases made, with the operator still running to release its finalizers, then stops everything. */
  async stop(): Promise<void> {
    const { custom } = adminClients();
    const kinds = [IMAGE_IMPORT, ECR_REGISTRY] as const;
    for (const kind of kinds) {
      await Promise.all(
        [...this.namespaces, this.canaryNamespace].map((namespace) =>
          custom.deleteCollectionNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: kind.plural, namespace }).catch(() => undefined),
        ),
      );
    }
    for (const name of this.clusterRegistries) {
      await custom.deleteClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural, name }).catch(() => undefined);
    }
    await eventually(
      async () => {
        for (const kind of [...kinds, CLUSTER_ECR_REGISTRY]) {
          const { items } = (await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: kind.plural })) as { items: Array<{ metadata: { namespace?: string; name: string } }> };
          const ours = items.filter((o) => (o.metadata.namespace ? [...this.namespaces, this.canaryNamespace].includes(o.metadata.namespace) : this.clusterRegistries.has(o.metadata.name)));
          expect(ours.map((o) => `${kind.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`), 'objects left after deletion').to.deep.equal([]);
        }
      },
      { timeoutMs: 60_000, intervalMs: 500, message: 'every case object deleted' },
    ).catch((error: unknown) => process.stderr.write(`      bad inputs: clean-up incomplete: ${(error as Error).message.slice(0, 300)}\n`));
    await this.operator.stop();
    await this.emulator.stop();
    for (const namespace of [...this.namespaces, this.canaryNamespace]) await deleteTestNamespace(namespace);
  }
}

/** A pull secret of ours: controlled by a registry kind and labelled as managed by the operator. */
function isOperatorOwned(secret: V1Secret): boolean {
  const owner = secret.metadata?.ownerReferences?.find((o) => o.controller);
  return (owner?.kind === ECR_REGISTRY.kind || owner?.kind === CLUSTER_ECR_REGISTRY.kind) && secret.metadata?.labels?.[MANAGED_BY_LABEL] === 'ecr-pullsecrets-operator';
}

/** At most `limit` tasks at once. */
function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

interface CaseResult {
  outcome?: Outcome;
  ms: number;
  error?: unknown;
}

/**
 * The corpus as mocha tests: one `it` per case (named `<class>: <title>`), then the run-wide checks.
 * Cases start together (a few at a time) in `before`; each `it` waits for its own.
 */
export function describeBadInputs(cases: readonly BadInputCase[], tier: Tier): void {
  const selected = cases.filter((c) => tier === 'full' || c.tier === 'fast');
  describe(`bad inputs: ${selected.length} cases (${tier} corpus), each rejected at admission or reported by a condition and an Event`, function () {
    this.timeout(180_000);
    let world: World;
    const results = new Map<string, Promise<CaseResult>>();
    const settled = new Map<string, CaseResult>();
    let startedMs = 0;

    const runCase = async (c: BadInputCase): Promise<CaseResult> => {
      const started = Date.now();
      try {
        const namespace = await world.namespace(c.id);
        const ctx = new CaseContext(world, namespace);
        await c.run(ctx);
        expect([...ctx.outcomes], 'a case ends in exactly one of the two outcomes').to.have.length(1);
        // Every case: no Secret the operator does not own changed, and the canary is still served.
        await world.assertNoForeignSecretChanged(ctx.foreign, [namespace]);
        await world.canaryServed();
        const result = { outcome: [...ctx.outcomes][0]!, ms: Date.now() - started };
        settled.set(c.id, result);
        return result;
      } catch (error) {
        settled.set(c.id, { ms: Date.now() - started, error });
        throw error;
      }
    };

    before(async function () {
      this.timeout(120_000);
      startedMs = Date.now();
      world = await World.start(tier);
      const slot = limiter(CASES_AT_ONCE);
      const together = selected.filter((c) => !c.alone);
      for (const c of together) results.set(c.id, slot(() => runCase(c)));
      // The cases that must run alone wait for every other to settle first.
      const others = Promise.allSettled([...results.values()]);
      let previous: Promise<unknown> = others;
      for (const c of selected.filter((x) => x.alone)) {
        const run = previous.then(() => runCase(c));
        results.set(c.id, run);
        previous = run.catch(() => undefined);
      }
      for (const result of results.values()) result.catch(() => undefined);
    });

    after(async function () {
      this.timeout(120_000);
      report(selected, settled, tier, Date.now() - startedMs);
      const stopping = Date.now();
      await world?.stop();
      process.stderr.write(`      bad inputs: clean-up (every case object deleted through the operator's finalizers) took ${((Date.now() - stopping) / 1000).toFixed(1)} s\n`);
    });

    for (const c of selected) {
      it(`${c.class}: ${c.title}`, async function () {
        this.timeout(c.alone ? 600_000 : 180_000);
        await results.get(c.id);
      });
    }

    it('changed no Secret it does not own that existed before the corpus, the canary\'s keys among them', async () => {
      await Promise.allSettled([...results.values()]);
      const checked = await world.assertPreexistingSecretsUnchanged();
      expect(checked, 'Secrets checked').to.be.greaterThan(0);
    });

    it('kept the canary served throughout, refreshing on its own, and it follows new keys at once', async function () {
      this.timeout(120_000);
      await Promise.allSettled([...results.values()]);
      const duringCorpus = world.canaryTokens.size;
      // A corpus that ends before the canary's first refresh (7.8 s on an idle machine) has seen one token:
      // sampling goes on until the canary has refreshed on its own, within two token lifetimes.
      await eventually(
        async () => {
          await world.canaryServed();
          expect(world.canaryTokens.size, `canary tokens served (${TOKEN_SECONDS} s tokens)`).to.be.at.least(2);
        },
        { timeoutMs: 2 * TOKEN_SECONDS * 1000, intervalMs: 500, message: 'the canary refreshes on its own' },
      );
      expect(world.canaryExpiredSamples, 'canary samples that held an expired token').to.deep.equal([]);
      await world.canaryFollowsNewKeys();
      process.stderr.write(`      canary: ${duringCorpus} distinct tokens served while the corpus ran, ${world.canaryTokens.size} in all, none expired\n`);
    });

    it('never wrote a key or a token to its logs or Events', async () => {
      await Promise.allSettled([...results.values()]);
      await world.operator.operator.events.flush();
      const logs = world.operator.logs();
      const events: EventsV1Event[] = [];
      for (const namespace of [...world.namespaces, world.canaryNamespace, 'default']) events.push(...(await adminClients().events.listNamespacedEvent({ namespace })).items);
      const notes = events.map((e) => JSON.stringify(e)).join('\n');
      expect(world.secretsSeen.size).to.be.greaterThan(10);
      for (const secret of world.secretsSeen) {
        expect(logs.includes(secret), 'a key or token in the logs').to.equal(false);
        expect(notes.includes(secret), 'a key or token in an Event').to.equal(false);
      }
    });
  });
}

/** Prints the class × outcome table and records one scorecard row per class. */
function report(cases: readonly BadInputCase[], settled: ReadonlyMap<string, CaseResult>, tier: Tier, elapsedMs: number): void {
  const classes = [...new Set(cases.map((c) => c.class))];
  const lines = ['| Input class | Cases | Rejected at admission | Reported (condition + Event) | Failed |', '| --- | ---: | ---: | ---: | ---: |'];
  for (const name of classes) {
    const members = cases.filter((c) => c.class === name);
    const results = members.map((c) => settled.get(c.id));
    const rejected = results.filter((r) => r?.outcome === 'rejected').length;
    const reported = results.filter((r) => r?.outcome === 'reported').length;
    const failed = members.filter((c) => !settled.get(c.id) || settled.get(c.id)!.error !== undefined);
    lines.push(`| ${name} | ${members.length} | ${rejected} | ${reported} | ${failed.length} |`);
    recordScore({
      fault: `bad input: ${name}`,
      tried: members.map((c) => c.title).join('; '),
      times: members.length,
      held: `${rejected} rejected at admission with a clear message, ${reported} reported by a condition and an Event; canary served and no foreign Secret changed after each`,
      lost: failed.length === 0 ? 'nothing' : `failed: ${failed.map((c) => c.id).join(', ')}`,
      ok: failed.length === 0,
      profile: reliabilityProfile(),
    });
  }
  const slowest = [...settled.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 3).map(([id, r]) => `${id} ${(r.ms / 1000).toFixed(1)} s`);
  process.stderr.write(`\n      bad inputs (${tier}): ${settled.size} cases in ${(elapsedMs / 1000).toFixed(1)} s; slowest: ${slowest.join(', ')}\n${lines.map((l) => `      ${l}`).join('\n')}\n\n`);
}

