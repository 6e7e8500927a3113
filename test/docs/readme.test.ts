import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { dump, loadAll } from 'js-yaml';
import { Registry } from 'prom-client';
import type { EcrRegistry } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, ECR_REGISTRY, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import { ImportReason } from '../../src/imageimport/reasons.ts';
import { OperatorMetrics } from '../../src/observability/metrics.ts';
import { RegistryReason } from '../../src/registry/reasons.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, readyCondition } from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { type CodeBlock, codeBlocks, sections, tableFirstColumns } from './markdown.ts';
import { buildReadmeWorld, type SnippetObject } from './readme-world.ts';

/**
 * The README is a user guide, so this test follows it as a user would: every ```yaml block is applied,
 * in order, with the real kubectl into one namespace, against the operator and an ECR emulator set up
 * as the README's AWS account is. Then every EcrRegistry and ImageImport it defines must become Ready.
 *
 * - An EcrRegistry gets `spec.endpoint` set to the emulator, in memory, as the demo does (the README
 *   rightly leaves it out); nothing else in a snippet is changed.
 * - Pods are applied with --dry-run=server: the test cluster has no nodes, and the pinned digest is an
 *   example. Kinds of other projects (an Argo CD Application) are applied for real against a minimal
 *   copy of their CRD (fixtures/); the chart's alerts are tested in test/integration/prometheus-rules.test.ts.
 * - Snippets must be whole objects with no namespace, so `kubectl apply -n <ns> -f` works as written.
 *
 * It also holds the README to the code: the minimal IAM policy lists exactly the actions the code
 * calls, and the troubleshooting and metrics tables list exactly the reasons and metrics there are.
 */

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../..');
const README_PATH = path.join(REPOSITORY_ROOT, 'README.md');
const README = readFileSync(README_PATH, 'utf8');
const BLOCKS = codeBlocks(README);
const YAML_BLOCKS = BLOCKS.filter((b) => b.lang === 'yaml' || b.lang === 'yml');
const DRY_RUN_KINDS = new Set(['Pod', 'Deployment']);

interface Snippet {
  block: CodeBlock;
  objects: SnippetObject[];
  title: string;
}

const SNIPPETS: Snippet[] = YAML_BLOCKS.map((block) => {
  const objects = loadAll(block.text).filter((d) => d !== null && d !== undefined) as SnippetObject[];
  const names = objects.map((o) => `${o?.kind} ${o?.metadata?.name}`).join(', ');
  return { block, objects, title: `"${block.heading}": ${names} (README.md line ${block.line})` };
});

describe('README.md', function () {
  this.timeout(60_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  let operatorStopped = false;
  let namespace: string;
  const applied: SnippetObject[] = [];

  before(async () => {
    emulator = await EcrEmulator.start({ oidcCaPem: testEnv().caCertPem });
    const notes = buildReadmeWorld(
      emulator,
      SNIPPETS.flatMap((s) => s.objects),
      testEnv().serviceAccountIssuer,
    );
    process.stderr.write(`      the README's AWS world in the emulator: ${notes.join('; ')}\n`);
    // The operator's own identity (credentials.source Operator) is, in this world, Step 1's keys.
    const keys = SNIPPETS.flatMap((s) => s.objects).find((o) => o.kind === 'Secret' && (o.stringData as Record<string, string> | undefined)?.AWS_ACCESS_KEY_ID);
    const stringData = (keys?.stringData ?? {}) as Record<string, string>;
    operator = await startTestOperator({
      allowedEndpoints: [emulator.url],
      stsEndpoint: emulator.url,
      operatorIdentity: async () => ({ accessKeyId: stringData.AWS_ACCESS_KEY_ID!, secretAccessKey: stringData.AWS_SECRET_ACCESS_KEY! }),
    });
    namespace = await createTestNamespace('readme');
    await keysInTheOperatorNamespace();
    await testEnv().installCrds(path.join(import.meta.dirname, 'fixtures'));
  });

  after(async () => {
    // A bare apiserver never empties a deleted namespace: delete what would keep the operator busy.
    for (const object of [...applied].reverse()) {
      if (DRY_RUN_KINDS.has(object.kind)) continue;
      await testEnv().kubectl(['delete', '-n', namespace, '--ignore-not-found', '--wait=false', `${object.kind}/${object.metadata.name}`]).catch(() => undefined);
    }
    if (!operatorStopped) await operator?.stop();
    await emulator?.stop();
    if (namespace) await deleteTestNamespace(namespace);
  });

  describe('each YAML snippet, applied in order with kubectl', () => {
    it('has YAML snippets to apply', () => {
      expect(SNIPPETS.length, 'yaml blocks in README.md').to.be.greaterThan(5);
    });

    for (const snippet of SNIPPETS) {
      it(snippet.title, async () => {
        expect(snippet.objects.length, `${snippet.title}: no object`).to.be.greaterThan(0);
        for (const object of snippet.objects) {
          expect(object?.apiVersion && object.kind && object.metadata?.name, `${snippet.title}: every object needs apiVersion, kind and metadata.name`).to.be.ok;
          expect(object.metadata.namespace, `${snippet.title}: leave the namespace out, so "kubectl apply -n <namespace>" works`).to.equal(undefined);
        }
        const objects = snippet.objects.map((object) => forTheEmulator(object, emulator.url));
        const dryRun = objects.every((o) => DRY_RUN_KINDS.has(o.kind));
        const args = ['apply', '-n', namespace, '-f', '-', ...(dryRun ? ['--dry-run=server'] : [])];
        // The snippet's own text, unless an EcrRegistry in it had to be pointed at the emulator.
        const changed = objects.some((o, i) => o !== snippet.objects[i]);
        const stdin = changed ? objects.map((o) => dump(o)).join('---\n') : snippet.block.text;
        const result = await testEnv().kubectl(args, { stdin });
        if (result.code !== 0) {
          throw new Error(`README snippet under ${snippet.title} does not apply:\n${result.stderr.trim()}\n--- the snippet ---\n${snippet.block.text}`);
        }
        applied.push(...snippet.objects);
      });
    }
  });

  // Mocha runs a describe's own tests before its nested ones: these come after every snippet is applied.
  describe('then, as a user follows it', () => {
    it('makes every EcrRegistry and ImageImport in the README Ready, as the README says', async function () {
      this.timeout(60_000);
      const custom = adminClients().custom;
      const registries = applied.filter((o) => o.kind === ECR_REGISTRY.kind).map((o) => o.metadata.name);
      const imports = applied.filter((o) => o.kind === IMAGE_IMPORT.kind).map((o) => o.metadata.name);
      const clusterRegistries = applied.filter((o) => o.kind === CLUSTER_ECR_REGISTRY.kind).map((o) => o.metadata.name);
      expect(registries, 'EcrRegistries applied from the README').to.not.be.empty;
      expect(clusterRegistries, 'ClusterEcrRegistries applied from the README').to.not.be.empty;
      expect(imports, 'ImageImports applied from the README').to.not.be.empty;
      const path = (plural: string) => ({ group: API_GROUP, version: API_VERSION, plural, namespace });
      await eventually(
        async () => {
          for (const name of registries) {
            const registry = (await custom.getNamespacedCustomObject({ ...path(ECR_REGISTRY.plural), name })) as EcrRegistry;
            const ready = readyCondition(registry);
            expect(ready?.status, `EcrRegistry ${name} Ready (${ready?.reason}: ${ready?.message})`).to.equal('True');
            const accounts = registry.status?.conditions?.find((c) => c.type === 'ServiceAccountsReady');
            if (accounts) expect(accounts.status, `EcrRegistry ${name} ServiceAccountsReady (${accounts.message})`).to.equal('True');
          }
          for (const name of clusterRegistries) {
            const registry = await custom.getClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural, name });
            const ready = readyCondition(registry as EcrRegistry);
            expect(ready?.status, `ClusterEcrRegistry ${name} Ready (${ready?.reason}: ${ready?.message})`).to.equal('True');
          }
          for (const name of imports) {
            const imageImport = (await custom.getNamespacedCustomObject({ ...path(IMAGE_IMPORT.plural), name })) as ImageImport;
            const ready = readyCondition(imageImport);
            expect(ready?.status, `ImageImport ${name} Ready (${ready?.reason}: ${ready?.message})`).to.equal('True');
          }
        },
        { timeoutMs: 45_000, intervalMs: 250, message: 'the README objects becoming Ready' },
      );
      // Step 2 promises the ServiceAccount carries the pull secret.
      for (const name of registries) {
        const registry = (await custom.getNamespacedCustomObject({ ...path(ECR_REGISTRY.plural), name })) as EcrRegistry;
        for (const { name: account } of registry.spec.pullSecret?.serviceAccounts ?? []) {
          const { imagePullSecrets } = await adminClients().core.readNamespacedServiceAccount({ namespace, name: account });
          expect(imagePullSecrets?.map((r) => r.name), `ServiceAccount ${account}`).to.include(registry.status?.pullSecretName);
        }
      }
    });

    it('shows the printer columns kubectl really prints', async () => {
      for (const [command, resource] of [
        ['kubectl -n team-a get ecrregistries -o wide', ['get', 'ecrregistries', '-o', 'wide']],
        ['kubectl -n team-a get imageimports', ['get', 'imageimports']],
      ] as const) {
        const index = BLOCKS.findIndex((b) => b.lang === 'sh' && b.text.includes(command));
        expect(index, `a sh block running "${command}"`).to.be.at.least(0);
        const shown = BLOCKS[index + 1];
        expect(shown?.lang, `the block after "${command}" shows its output`).to.equal('text');
        const result = await testEnv().kubectl(['-n', namespace, ...resource]);
        expect(result.code, result.stderr).to.equal(0);
        const columns = (line: string) => line.trim().split(/\s{2,}/);
        expect(columns(shown!.text.split('\n')[0]!), `README.md line ${shown!.line}`).to.deep.equal(columns(result.stdout.split('\n')[0]!));
      }
    });

    it("pins images in the form the ImageImport's status gives", async () => {
      const pinned = SNIPPETS.flatMap((s) => s.objects)
        .filter((o) => o.kind === 'Pod')
        .flatMap((o) => ((o.spec as { containers?: Array<{ image?: string }> }).containers ?? []).map((c) => c.image ?? ''))
        .filter((image) => image.includes('@'));
      expect(pinned, 'a Pod snippet with a digest-pinned image').to.not.be.empty;
      const name = applied.find((o) => o.kind === IMAGE_IMPORT.kind)!.metadata.name;
      const imageImport = (await adminClients().custom.getNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        plural: IMAGE_IMPORT.plural,
        namespace,
        name,
      })) as ImageImport;
      const images = (imageImport.status?.tags ?? []).map((t) => t.image ?? '');
      for (const image of pinned) {
        expect(image).to.match(/^[^@]+@sha256:[0-9a-f]{64}$/);
        expect(images.map((i) => i.split('@')[0]), `the repository part of ${image}`).to.include(image.split('@')[0]);
      }
    });

    it('asks in its minimal IAM policy for exactly the actions the code calls', () => {
      const policies = BLOCKS.filter((b) => b.lang === 'json').map((b) => {
        try {
          return { block: b, policy: JSON.parse(b.text) as { Statement?: Array<{ Action?: string | string[] }> } };
        } catch (error) {
          throw new Error(`README.md line ${b.line}: the json block does not parse: ${(error as Error).message}`);
        }
      });
      const actionsOf = (policy: { Statement?: Array<{ Action?: string | string[] }> }) =>
        new Set((policy.Statement ?? []).flatMap((s) => (Array.isArray(s.Action) ? s.Action : s.Action ? [s.Action] : [])));
      const called = actionsTheCodeCalls();
      const minimal = policies.find((p) => actionsOf(p.policy).has('ecr:GetAuthorizationToken'));
      expect(minimal, 'a json policy granting ecr:GetAuthorizationToken').to.not.equal(undefined);
      const ecrActions = [...called].filter((a) => a.startsWith('ecr:')).sort();
      expect([...actionsOf(minimal!.policy)].sort(), `the policy at README.md line ${minimal!.block.line}`).to.deep.equal(ecrActions);
      for (const action of [...called].filter((a) => !a.startsWith('ecr:'))) {
        expect(
          policies.some((p) => actionsOf(p.policy).has(action)),
          `a json policy in the README granting ${action}`,
        ).to.equal(true);
      }
      // The actions table explains each action the code calls.
      const step1 = sections(README).find((s) => s.heading.startsWith('Step 1'))!;
      const explained = tableFirstColumns(step1.body).flat();
      expect([...explained].sort(), 'the actions table in Step 1').to.deep.equal([...called].sort());
    });

    it('explains every condition and Event reason in the troubleshooting tables', () => {
      const troubleshooting = sections(README).find((s) => s.heading === 'Troubleshooting');
      expect(troubleshooting, 'a Troubleshooting section').to.not.equal(undefined);
      const [registryTable, importTable] = tableFirstColumns(troubleshooting!.body);
      const registryReasons = [...new Set([...Object.values(RegistryReason), ...literalEventReasons('src/registry')])].sort();
      const importReasons = [...new Set([...Object.values(ImportReason), ...literalEventReasons('src/imageimport')])].sort();
      expect([...(registryTable ?? [])].sort(), 'the EcrRegistry table (first column) against src/registry/reasons.ts').to.deep.equal(registryReasons);
      expect([...(importTable ?? [])].sort(), 'the ImageImport table (first column) against src/imageimport/reasons.ts').to.deep.equal(importReasons);
    });

    // The alerts are the chart's PrometheusRule: test/integration/prometheus-rules.test.ts runs them with promtool
    // against the operator's real /metrics, and holds the Monitoring section's alerts table to them.
    it('lists every metric the operator serves', async () => {
      const metrics = new OperatorMetrics({ registry: new Registry(), processMetrics: false });
      const served = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name).sort();
      const monitoring = sections(README).find((s) => s.heading === 'Monitoring');
      expect(monitoring, 'a Monitoring section').to.not.equal(undefined);
      expect([...(tableFirstColumns(monitoring!.body)[0] ?? [])].sort(), 'the metrics table').to.deep.equal(served);
    });

    it('starts with the two commands of the quick start, and CI runs the second', () => {
      const quickStart = sections(README).find((s) => s.heading === 'Quick start')!;
      const commands = codeBlocks(quickStart.body)
        .filter((b) => b.lang === 'sh')
        .map((b) => b.text.trim());
      expect(commands.slice(0, 2)).to.deep.equal(['npm ci && npm run demo', 'npm ci && npm test']);
      expect(readFileSync(path.join(REPOSITORY_ROOT, '.ci/run'), 'utf8')).to.match(/^npm ci && npm test$/m);
    });

    it('releases registries the operator can no longer finalize with the Uninstall section\'s own commands', async function () {
      this.timeout(60_000);
      const recovery = BLOCKS.filter((b) => b.heading === 'Uninstall' && b.lang === 'sh').find((b) => b.text.includes('"finalizers":null'));
      expect(recovery, 'the finalizer recovery commands under Uninstall').to.not.equal(undefined);
      // As after `kubectl delete -k deploy/`: no operator runs, and deleted registries keep their finalizer.
      await operator.stop();
      operatorStopped = true;
      const registries = applied.filter((o) => o.kind === ECR_REGISTRY.kind || o.kind === CLUSTER_ECR_REGISTRY.kind);
      for (const o of registries) {
        const result = await testEnv().kubectl(['delete', '-n', namespace, `${o.kind.toLowerCase()}/${o.metadata.name}`, '--wait=false']);
        expect(result.code, result.stderr).to.equal(0);
      }
      const stuck = await testEnv().kubectl(['get', '-n', namespace, 'ecrregistries', '-o', 'name']);
      expect(stuck.stdout.trim(), 'registries held by their finalizer').to.not.equal('');
      const run = await runShell(recovery!.text, { PATH: `${path.dirname(testEnv().binaries.kubectl)}:${process.env.PATH}`, KUBECONFIG: testEnv().kubeconfigPath });
      expect(run.code, run.output).to.equal(0);
      await eventually(async () => {
        const left = await testEnv().kubectl(['get', '-A', 'ecrregistries,clusterecrregistries', '-o', 'name']);
        expect(left.stdout.trim(), 'registries left').to.equal('');
      });
    });
  });
});

/** An EcrRegistry pointed at the emulator, as the demo does; every other object as written. */
/**
 * The ClusterEcrRegistry section keeps its keys in ecr-pullsecrets-system with a `kubectl create secret`
 * command (a Secret in another namespace cannot be a snippet): do that, with Step 1's keys.
 */
async function keysInTheOperatorNamespace(): Promise<void> {
  const keys = SNIPPETS.flatMap((s) => s.objects).find((o) => o.kind === 'Secret' && (o.stringData as Record<string, string> | undefined)?.AWS_ACCESS_KEY_ID);
  if (!keys) throw new Error('the README has no Secret with AWS keys');
  const { core } = adminClients();
  const ignoreExists = (error: { code?: number }) => {
    if (error.code !== 409) throw error;
  };
  await core.createNamespace({ body: { metadata: { name: 'ecr-pullsecrets-system' } } }).catch(ignoreExists);
  await core
    .createNamespacedSecret({ namespace: 'ecr-pullsecrets-system', body: { metadata: { name: 'ecr-credentials' }, stringData: keys.stringData as Record<string, string> } })
    .catch(ignoreExists);
}

function forTheEmulator(object: SnippetObject, endpoint: string): SnippetObject {
  if (object.kind !== ECR_REGISTRY.kind && object.kind !== CLUSTER_ECR_REGISTRY.kind) return object;
  const registry = structuredClone(object) as unknown as EcrRegistry;
  registry.spec.endpoint = endpoint;
  return registry as unknown as SnippetObject;
}

/**
 * The IAM actions the operator's code needs: each AWS SDK command it sends, and the registry v2 reads
 * it makes with the pull secret (GET manifests is ecr:BatchGetImage, GET blobs is
 * ecr:GetDownloadUrlForLayer, as ECR documents for pulls).
 */
function actionsTheCodeCalls(): Set<string> {
  const actions = new Set<string>();
  for (const file of sourceFiles('src')) {
    const text = readFileSync(file, 'utf8');
    const services = [
      ['@aws-sdk/client-ecr', 'ecr'],
      ['@aws-sdk/client-sts', 'sts'],
    ] as const;
    for (const [module, prefix] of services) {
      const imported = new RegExp(`import\\s*\\{([^}]*)\\}\\s*from\\s*'${module}'`).exec(text)?.[1] ?? '';
      for (const name of imported.matchAll(/\b(\w+)Command\b/g)) if (new RegExp(`new ${name[1]}Command\\(`).test(text)) actions.add(`${prefix}:${name[1]}`);
    }
    if (/\/v2\/\$\{[^}]+\}\/manifests\//.test(text)) actions.add('ecr:BatchGetImage');
    if (/\/v2\/\$\{[^}]+\}\/blobs\//.test(text)) actions.add('ecr:GetDownloadUrlForLayer');
  }
  return actions;
}

/** Event reasons the code writes as string literals (the rest come from the reasons.ts constants). */
function literalEventReasons(dir: string): string[] {
  const reasons: string[] = [];
  for (const file of sourceFiles(dir)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/\.event\(\s*\w+,\s*'(?:Normal|Warning)',\s*'(\w+)'/g)) reasons.push(match[1]!);
  }
  return reasons;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(REPOSITORY_ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** Runs a README shell block with bash, as a reader would paste it. */
function runShell(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
