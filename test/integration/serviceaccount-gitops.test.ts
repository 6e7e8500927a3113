import type { V1ServiceAccount } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, createCredentialsSecret, createRegistry, listEvents } from '../support/fixtures.ts';
import {
  APPLY_STYLES,
  type ApplyStyle,
  applyManifest,
  applyOnSchedule,
  type Kubectl,
  ownersOf,
  ServiceAccountWriteLog,
  serviceAccountManifest,
} from '../support/gitops-apply.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

/**
 * A GitOps tool re-applies the ServiceAccount manifest on every sync while the operator appends its
 * pull secret to the same ServiceAccount's imagePullSecrets, an atomic list. These tests apply the
 * manifest with the real kubectl, server-side as Flux does and client-side as Argo CD does by default,
 * and count every write that reaches the ServiceAccount (each change of its resourceVersion).
 *
 * GITOPS_FIGHT_MINUTES=5 (and GITOPS_FIGHT_INTERVAL_SECONDS, default 30) also runs the long
 * measurement: every case and apply style at once, for that long, printing a table.
 */

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const REGISTRY = 'ecr-pull';
/** The pull secret takes the EcrRegistry's name. */
const PULL_SECRET = REGISTRY;
const SERVICE_ACCOUNT = 'app';
/** A pull secret the application's own manifest names (a mirror, say). */
const THEIRS = 'registry-mirror';
const OPERATOR = 'ecr-pullsecrets-operator';
const STYLES = Object.keys(APPLY_STYLES) as ApplyStyle[];

/** What the repository's ServiceAccount manifest says about imagePullSecrets, at the first apply and afterwards. */
interface ManifestCase {
  title: string;
  created?: readonly string[];
  synced?: readonly string[];
}

type CaseName = 'unlisted' | 'others' | 'ours' | 'dropped';

const CASES: Record<CaseName, ManifestCase> = {
  unlisted: { title: 'leaves imagePullSecrets out' },
  others: { title: 'lists other pull secrets only', created: [THEIRS], synced: [THEIRS] },
  ours: { title: 'lists the pull secret itself', created: [THEIRS, PULL_SECRET], synced: [THEIRS, PULL_SECRET] },
  dropped: { title: 'listed other pull secrets, then drops the field', created: [THEIRS] },
};

interface Measurement {
  namespace: string;
  case: CaseName;
  style: ApplyStyle;
  applies: number;
  /** ServiceAccount writes after the operator's first bind, per field manager. */
  writesBy: Record<string, number>;
  writes: number;
  /** After each apply returned, whether the ServiceAccount still listed the pull secret. */
  presentAfterApply: boolean[];
  /** How long the ServiceAccount went without the pull secret while the applies ran. */
  absentMs: number;
  /** Who owns imagePullSecrets at the end, from managedFields. */
  ownersAtEnd: string[];
  imagePullSecretsAtEnd: string[];
}

describe('ServiceAccounts under GitOps apply', function () {
  this.timeout(120_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  const namespaces: string[] = [];
  const kubectl: Kubectl = (args, options) => testEnv().kubectl(args, options);

  before(async () => {
    emulator = await EcrEmulator.start();
    operator = await startTestOperator({ allowedEndpoints: [emulator.url] });
  });
  after(async () => {
    await operator?.stop();
    await emulator?.stop();
  });
  afterEach(async () => {
    // A bare apiserver never empties a deleted namespace: delete the registries, so the operator lets go.
    const { custom } = adminClients();
    for (const namespace of namespaces.splice(0)) {
      const path = { group: 'ecr.pullsecrets.io', version: 'v1alpha1', plural: 'ecrregistries', namespace };
      await custom.deleteCollectionNamespacedCustomObject(path);
      await eventually(async () => expect(((await custom.listNamespacedCustomObject(path)) as { items: unknown[] }).items).to.have.length(0), {
        timeoutMs: 20_000,
      });
      await deleteTestNamespace(namespace);
    }
  });

  const readAccount = (namespace: string): Promise<V1ServiceAccount> => adminClients().core.readNamespacedServiceAccount({ namespace, name: SERVICE_ACCOUNT });
  const listed = (account: V1ServiceAccount) => (account.imagePullSecrets ?? []).map((ref) => ref.name ?? '');

  /** A namespace where the GitOps tool has created the ServiceAccount and the operator has bound it. */
  async function boundNamespace(name: CaseName, style: ApplyStyle): Promise<string> {
    const namespace = await createTestNamespace(`gitops-${name}-${style}`);
    namespaces.push(namespace);
    await applyManifest(kubectl, serviceAccountManifest(namespace, SERVICE_ACCOUNT, CASES[name].created), style);
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    await createCredentialsSecret(namespace, 'aws-keys', { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });
    const spec: EcrRegistrySpec = {
      registry: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`,
      endpoint: emulator.url,
      credentials: { secretRef: { name: 'aws-keys' } },
      pullSecret: { serviceAccounts: [{ name: SERVICE_ACCOUNT }] },
    };
    await createRegistry(namespace, REGISTRY, spec);
    await settled(namespace);
    return namespace;
  }

  /** The ServiceAccount lists the pull secret and the operator has nothing queued or running. */
  async function settled(namespace: string, log?: ServiceAccountWriteLog): Promise<V1ServiceAccount> {
    const { controller } = operator.operator.registries;
    return eventually(
      async () => {
        const account = await readAccount(namespace);
        expect(listed(account), 'imagePullSecrets').to.include(PULL_SECRET);
        if (log) expect(log.resourceVersion, 'the write log has seen the ServiceAccount as it is').to.equal(account.metadata?.resourceVersion);
        expect(controller.queue.len() + controller.inFlight(), 'registry reconciles queued or running').to.equal(0);
        return account;
      },
      { timeoutMs: 30_000, intervalMs: 50, message: `ServiceAccount ${namespace}/${SERVICE_ACCOUNT} bound and the operator idle` },
    );
  }

  /** Re-applies the case's manifest on a schedule, after the operator's bind, and counts the writes that follow. */
  async function measure(name: CaseName, style: ApplyStyle, schedule: { applies: number; intervalMs: number }): Promise<Measurement> {
    const namespace = await boundNamespace(name, style);
    const bound = await readAccount(namespace);
    const log = await ServiceAccountWriteLog.start(testEnv().kubeConfig(), namespace, SERVICE_ACCOUNT, bound, PULL_SECRET);
    try {
      const presentAfterApply: boolean[] = [];
      const manifest = serviceAccountManifest(namespace, SERVICE_ACCOUNT, CASES[name].synced);
      await applyOnSchedule(kubectl, style, schedule, () => manifest, async () => {
        presentAfterApply.push(listed(await readAccount(namespace)).includes(PULL_SECRET));
      });
      const end = await settled(namespace, log);
      return {
        namespace,
        case: name,
        style,
        applies: schedule.applies,
        writesBy: log.writesBy(),
        writes: log.writes().length,
        presentAfterApply,
        absentMs: log.absentMs(),
        ownersAtEnd: ownersOf(end, 'f:imagePullSecrets'),
        imagePullSecretsAtEnd: listed(end),
      };
    } finally {
      log.stop();
    }
  }

  /** Measures every apply style at once, each in its own namespace. */
  async function measureStyles(name: CaseName, schedule = SHORT): Promise<Record<ApplyStyle, Measurement>> {
    const results = await Promise.all(STYLES.map((style) => measure(name, style, schedule)));
    for (const result of results) report(result);
    return Object.fromEntries(results.map((result) => [result.style, result])) as Record<ApplyStyle, Measurement>;
  }

  const SHORT = { applies: 6, intervalMs: 1_000 };

  it('keeps its entry through every apply of a manifest that leaves imagePullSecrets out, writing nothing', async () => {
    const results = await measureStyles('unlisted');
    for (const style of STYLES) {
      const result = results[style];
      expect(result.presentAfterApply, `${style}: entry present after each apply`).to.deep.equal(Array(SHORT.applies).fill(true));
      expect(result.writesBy, `${style}: ServiceAccount writes after the bind`).to.deep.equal({});
      expect(result.imagePullSecretsAtEnd).to.deep.equal([PULL_SECRET]);
      // The JSON patch made the operator the owner of the (atomic) list; the applier never claimed it.
      expect(result.ownersAtEnd).to.deep.equal([`${OPERATOR} (Update)`]);
    }
  });

  it('writes nothing when the manifest lists the pull secret itself', async () => {
    const results = await measureStyles('ours');
    for (const style of STYLES) {
      const result = results[style];
      expect(result.presentAfterApply, `${style}: entry present after each apply`).to.deep.equal(Array(SHORT.applies).fill(true));
      expect(result.writesBy, `${style}: ServiceAccount writes after the bind`).to.deep.equal({});
      expect(result.imagePullSecretsAtEnd).to.deep.equal([THEIRS, PULL_SECRET]);
    }
  });

  it('restores its entry, with one write, after each apply of a manifest that lists only other pull secrets', async () => {
    const results = await measureStyles('others');
    for (const style of STYLES) {
      const result = results[style];
      const { manager } = APPLY_STYLES[style];
      // Each apply replaces the list without our entry; each removal is repaired exactly once.
      expect(result.writesBy, `${style}: writes per manager`).to.deep.equal({ [manager]: SHORT.applies, [OPERATOR]: SHORT.applies });
      expect(result.imagePullSecretsAtEnd).to.deep.equal([THEIRS, PULL_SECRET]);
      // Each restore says who removed the entry and how to stop it.
      await operator.operator.events.flush();
      const restored = (await listEvents(result.namespace)).filter((e) => e.reason === 'ServiceAccountEntryRestored');
      expect(restored, `${style}: ServiceAccountEntryRestored Events`).to.have.length(1);
      expect(restored[0]?.type).to.equal('Warning');
      expect(restored[0]?.note).to.include(manager).and.include(`list ${PULL_SECRET} in it`);
      process.stderr.write(`      ${style}: ${restored[0]?.note} (series count ${restored[0]?.series?.count ?? 1})\n`);
    }
  });

  it('keeps its entry when the manifest stops listing imagePullSecrets', async () => {
    const results = await measureStyles('dropped');
    // Server-side apply removes a field its manager stops applying only when no other manager owns
    // it; the operator's append made it the owner of the list, so nothing changes.
    expect(results['server-side'].writesBy, 'server-side: writes after the field is dropped').to.deep.equal({});
    expect(results['server-side'].imagePullSecretsAtEnd).to.deep.equal([THEIRS, PULL_SECRET]);
    // Client-side apply deletes what its last-applied annotation had and the manifest no longer has:
    // the whole list goes once, the operator puts its entry back once, and later applies change nothing.
    // (The apply only removes fields: when it lands in the same second as its earlier managedFields
    // entry, nothing names its manager, so it is counted, not attributed.)
    const writes = results['client-side'].writesBy;
    expect(writes[OPERATOR], 'client-side: the operator restores its entry once').to.equal(1);
    expect(Object.values(writes).reduce((sum, n) => sum + n, 0), `client-side: writes after the field is dropped ${JSON.stringify(writes)}`).to.equal(2);
    expect(results['client-side'].imagePullSecretsAtEnd).to.deep.equal([PULL_SECRET]);
  });

  describe('over minutes (GITOPS_FIGHT_MINUTES)', () => {
    const minutes = Number(process.env.GITOPS_FIGHT_MINUTES ?? 0);
    const intervalSeconds = Number(process.env.GITOPS_FIGHT_INTERVAL_SECONDS ?? 30);
    (minutes > 0 ? it : it.skip)(`counts ServiceAccount writes with an apply every ${intervalSeconds} s, every case and style at once`, async function () {
      const intervalMs = intervalSeconds * 1_000;
      const applies = Math.max(1, Math.floor((minutes * 60_000) / intervalMs));
      this.timeout(minutes * 60_000 + 5 * 60_000);
      const names = Object.keys(CASES) as CaseName[];
      const results = await Promise.all(names.flatMap((name) => STYLES.map((style) => measure(name, style, { applies, intervalMs }))));
      process.stderr.write(`      ${applies} applies, ${intervalSeconds} s apart (${minutes} min), per case and style:\n`);
      for (const result of results) report(result);
      for (const result of results.filter((r) => r.case === 'unlisted' || r.case === 'ours')) {
        expect(result.writesBy, `${result.case} ${result.style}`).to.deep.equal({});
      }
    });
  });
});

function report(result: Measurement): void {
  const by = Object.entries(result.writesBy).map(([manager, count]) => `${manager} ${count}`).join(', ') || 'none';
  process.stderr.write(
    `      manifest that ${CASES[result.case].title}, ${result.style} apply (${APPLY_STYLES[result.style].tool}), ${result.applies} applies: ` +
      `${result.writes} ServiceAccount writes (${by}); ` +
      `entry absent ${result.absentMs} ms; imagePullSecrets ${JSON.stringify(result.imagePullSecretsAtEnd)} owned by ${result.ownersAtEnd.join(', ') || 'nobody'}\n`,
  );
}
