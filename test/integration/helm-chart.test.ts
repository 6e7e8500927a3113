import fs from 'node:fs/promises';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, type KubernetesObject, RbacAuthorizationV1Api, type V1ClusterRole, type V1Deployment, type V1Role } from '@kubernetes/client-node';
import { expect } from 'chai';
import { loadAll } from 'js-yaml';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { helm } from '../support/helm.ts';

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../..');
const CHART_DIR = path.join(REPOSITORY_ROOT, 'deploy', 'chart');
/** deploy/ installs into this namespace; the chart is rendered into it so the two can be compared as they are. */
const DEPLOY_NAMESPACE = 'ecr-pullsecrets-system';

/**
 * Where the chart and deploy/ knowingly differ, with defaults:
 * - deploy/ creates its Namespace (with Pod Security labels); a chart installs into the namespace
 *   `helm install --namespace` names and does not own it (README.md: create and label it first).
 * - the chart adds a PodDisruptionBudget, on by default because replicaCount is 2.
 * Every other object must be equal field for field.
 */
const ONLY_IN_DEPLOY = ['Namespace'];
const ONLY_IN_CHART: string[] = [];

interface Rendered extends KubernetesObject {
  kind: string;
}

/** A human key for an object: Kind namespace/name. */
function keyOf(object: KubernetesObject): string {
  const namespace = object.metadata?.namespace;
  return `${object.kind} ${namespace ? `${namespace}/` : ''}${object.metadata?.name}`;
}

/**
 * kubectl kustomize (go-yaml v3) re-emits a folded block scalar (`>-`) that has more-indented lines
 * with an extra blank line before each, which adds a "\n" to the string (deploy/guardrails.yaml's
 * CEL expressions, where whitespace means nothing). Both sides are compared with runs of newlines
 * collapsed to one; every other character of every string must match.
 */
function collapseBlankLines<T>(value: T): T {
  if (typeof value === 'string') return value.replace(/\n{2,}/g, '\n') as T;
  if (Array.isArray(value)) return value.map(collapseBlankLines) as T;
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, collapseBlankLines(inner)])) as T;
  return value;
}

function parseObjects(yaml: string): Rendered[] {
  return (loadAll(yaml) as Array<Rendered | null | undefined>).filter((object): object is Rendered => object != null);
}

/** Paths (a.b[0].c) at which two plain JSON values differ, with both values; empty when equal. */
function differences(left: unknown, right: unknown, at = ''): string[] {
  if (Array.isArray(left) && Array.isArray(right)) {
    const length = Math.max(left.length, right.length);
    return Array.from({ length }, (_, index) => differences(left[index], right[index], `${at}[${index}]`)).flat();
  }
  if (isRecord(left) && isRecord(right)) {
    const keys = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
    return keys.flatMap((key) => differences(left[key], right[key], at ? `${at}.${key}` : key));
  }
  return JSON.stringify(left) === JSON.stringify(right) ? [] : [`${at || '(root)'}: deploy/ ${JSON.stringify(left)} ≠ chart ${JSON.stringify(right)}`];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every difference between two multisets of objects, matched by kind, namespace and name. */
function compareObjects(fromDeploy: Rendered[], fromChart: Rendered[]): string[] {
  const problems: string[] = [];
  const byKey = (objects: Rendered[]) => {
    const map = new Map<string, Rendered[]>();
    for (const object of objects) map.set(keyOf(object), [...(map.get(keyOf(object)) ?? []), object]);
    return map;
  };
  const deploy = byKey(fromDeploy);
  const chart = byKey(fromChart);
  for (const [key, objects] of deploy) {
    const counterparts = chart.get(key) ?? [];
    if (objects.length !== counterparts.length) {
      problems.push(`${key}: ${objects.length} in deploy/, ${counterparts.length} in the chart`);
      continue;
    }
    objects.forEach((object, index) => {
      for (const difference of differences(object, counterparts[index])) problems.push(`${key}: ${difference}`);
    });
  }
  for (const key of chart.keys()) if (!deploy.has(key)) problems.push(`${key}: only in the chart`);
  return problems;
}

async function template(args: string[] = [], namespace = DEPLOY_NAMESPACE): Promise<Rendered[]> {
  const result = await helm(['template', 'ecr-pullsecrets-operator', CHART_DIR, '--namespace', namespace, ...args]);
  expect(result.code, result.stderr).to.equal(0);
  return parseObjects(result.stdout);
}

function ofKind<T extends KubernetesObject>(objects: Rendered[], kind: string): T[] {
  return objects.filter((object) => object.kind === kind) as T[];
}

describe('the Helm chart (deploy/chart), with Helm built from Go modules', function () {
  // The first call may build helm (a few minutes cold; `npm run controlplane` builds it beforehand).
  this.timeout(20 * 60_000);

  before(async () => {
    const version = await helm(['version', '--short']);
    expect(version.code, version.stderr).to.equal(0);
  });

  it('passes helm lint --strict', async () => {
    const result = await helm(['lint', '--strict', CHART_DIR]);
    expect(result.code, `${result.stdout}${result.stderr}`).to.equal(0);
    expect(result.stdout).to.match(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(result.stdout).not.to.match(/\[(WARNING|ERROR)\]/);
  });

  it('renders, with default values, the same objects as kubectl kustomize deploy/ (but the Namespace)', async () => {
    const kustomized = await testEnv().kubectl(['kustomize', path.join(REPOSITORY_ROOT, 'deploy')]);
    expect(kustomized.code, kustomized.stderr).to.equal(0);
    const fromDeploy = parseObjects(kustomized.stdout);
    const fromChart = await template();

    expect(fromDeploy.filter((o) => ONLY_IN_DEPLOY.includes(o.kind)).map(keyOf)).to.deep.equal([`Namespace ${DEPLOY_NAMESPACE}`]);
    const problems = compareObjects(
      fromDeploy.filter((o) => !ONLY_IN_DEPLOY.includes(o.kind)).map(collapseBlankLines),
      fromChart.filter((o) => !ONLY_IN_CHART.includes(o.kind)).map(collapseBlankLines),
    );
    expect(problems, `the chart and deploy/ differ:\n  ${problems.join('\n  ')}`).to.deep.equal([]);
    expect(fromChart.length, 'objects compared').to.be.greaterThan(8);
  });

  it('puts every namespaced object, RBAC subject and the guardrail match into the release namespace', async () => {
    const objects = await template([], 'platform-ops');
    const clusterScoped = ['ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'];
    for (const object of objects) {
      expect(object.metadata?.namespace, keyOf(object)).to.equal(clusterScoped.includes(object.kind) ? undefined : 'platform-ops');
    }
    const subjects = objects.flatMap((o) => (o as { subjects?: Array<{ namespace?: string }> }).subjects ?? []);
    expect(subjects.map((s) => s.namespace)).to.deep.equal(['platform-ops', 'platform-ops']);
    const policy = ofKind<KubernetesObject & { spec: { matchConditions: Array<{ expression: string }> } }>(objects, 'ValidatingAdmissionPolicy')[0];
    expect(policy?.spec.matchConditions[0]?.expression).to.equal("request.userInfo.username == 'system:serviceaccount:platform-ops:ecr-pullsecrets-operator'");
  });

  it('grants Roles in the watched namespaces, and no ClusterRole over Secrets, when watchNamespaces is a list', async () => {
    const objects = await template(['--set', 'watchNamespaces={team-a,team-b}']);
    const grantsSecrets = (rules: V1ClusterRole['rules']) => (rules ?? []).some((rule) => rule.resources?.includes('secrets'));
    expect(ofKind<V1ClusterRole>(objects, 'ClusterRole').filter((role) => grantsSecrets(role.rules))).to.deep.equal([]);
    expect(ofKind(objects, 'ClusterRoleBinding')).to.deep.equal([]);
    const roles = ofKind<V1Role>(objects, 'Role').filter((role) => role.metadata?.name === 'ecr-pullsecrets-operator');
    expect(roles.map((role) => role.metadata?.namespace)).to.deep.equal(['team-a', 'team-b']);
    for (const role of roles) expect(grantsSecrets(role.rules), `Role in ${role.metadata?.namespace}`).to.equal(true);
    const bindings = ofKind(objects, 'RoleBinding').filter((binding) => binding.metadata?.name === 'ecr-pullsecrets-operator');
    expect(bindings.map((binding) => binding.metadata?.namespace)).to.deep.equal(['team-a', 'team-b']);
    const deployment = ofKind<V1Deployment>(objects, 'Deployment')[0];
    expect(deployment?.spec?.template.spec?.containers[0]?.args).to.include('--namespaces=team-a,team-b');
  });

  it('grants the namespaced Roles exactly the rules of deploy/components/namespaced', async () => {
    const component = parseObjects(await fs.readFile(path.join(REPOSITORY_ROOT, 'deploy/components/namespaced/role/role.yaml'), 'utf8'));
    const objects = await template(['--set', 'watchNamespaces={team-a}']);
    const role = ofKind<V1Role>(objects, 'Role').find((r) => r.metadata?.namespace === 'team-a');
    expect(role?.rules).to.deep.equal(ofKind<V1Role>(component, 'Role')[0]?.rules);
  });

  it('turns values into the Deployment: image digest, heap cap, Lease timings, endpoints, extra args, placement', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    // A values file on stdin (`-f -`), as a GitOps tool passes one: no --set escaping to get wrong.
    const values = {
      image: { digest },
      heapMaxMiB: 512,
      leaderElection: { leaseDuration: '30s' },
      allowedEndpoints: ['https://vpce-1.example.com', '/^https://.*\\.example\\.org$/'],
      extraArgs: ['--workers=8'],
      priorityClassName: 'system-cluster-critical',
      podLabels: { team: 'platform', 'app.kubernetes.io/name': 'not-the-selector' },
      replicaCount: 1,
    };
    const result = await helm(['template', 'ecr-pullsecrets-operator', CHART_DIR, '-f', '-'], { stdin: JSON.stringify(values) });
    expect(result.code, result.stderr).to.equal(0);
    const objects = parseObjects(result.stdout);
    const deployment = ofKind<V1Deployment>(objects, 'Deployment')[0];
    const pod = deployment?.spec?.template;
    const container = pod?.spec?.containers[0];
    expect(container?.image).to.equal(`ghcr.io/ecr-pullsecrets/operator:0.1.0@${digest}`);
    expect(container?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value).to.equal('--max-old-space-size=512');
    expect(container?.args).to.include.members([
      '--lease-duration=30s',
      '--allowed-endpoints=https://vpce-1.example.com,/^https://.*\\.example\\.org$/',
      '--workers=8',
    ]);
    expect(pod?.spec?.priorityClassName).to.equal('system-cluster-critical');
    expect(pod?.metadata?.labels).to.deep.equal({ 'app.kubernetes.io/name': 'ecr-pullsecrets-operator', 'app.kubernetes.io/component': 'controller', team: 'platform' });
    expect(ofKind(objects, 'PodDisruptionBudget'), 'one replica has nothing to keep running through a drain').to.deep.equal([]);
  });

  it('leaves the guardrails out when disabled, and allows the audiences listed', async () => {
    expect(ofKind(await template(['--set', 'guardrails.enabled=false']), 'ValidatingAdmissionPolicy')).to.deep.equal([]);
    const objects = await template(['--set', 'guardrails.allowedAudiences={sts.amazonaws.com,sts.example.internal}']);
    const policy = ofKind<KubernetesObject & { spec: { variables: Array<{ name: string; expression: string }> } }>(objects, 'ValidatingAdmissionPolicy')[0];
    expect(policy?.spec.variables.find((v) => v.name === 'allowedAudiences')?.expression).to.equal("['sts.amazonaws.com', 'sts.example.internal']");
  });

  it('rejects a misspelt value through values.schema.json', async () => {
    const result = await helm(['template', 'x', CHART_DIR, '--set', 'replicaCont=2']);
    expect(result.code).not.to.equal(0);
    expect(result.stderr).to.match(/values don't meet the specifications of the schema/);
    expect(result.stderr).to.include('replicaCont');
    const nested = await helm(['template', 'x', CHART_DIR, '--set', 'image.tagg=1.0']);
    expect(nested.code, 'unknown keys are refused below the top level too').not.to.equal(0);
    expect(nested.stderr).to.include('tagg');
  });

  it("ships crds/ byte for byte as the repository's crds/ (npm run chart:sync copies them)", async () => {
    const repository = (await fs.readdir(path.join(REPOSITORY_ROOT, 'crds'))).sort();
    const chart = (await fs.readdir(path.join(CHART_DIR, 'crds'))).sort();
    expect(chart).to.deep.equal(repository);
    for (const file of repository) {
      const [ours, shipped] = await Promise.all([
        fs.readFile(path.join(REPOSITORY_ROOT, 'crds', file)),
        fs.readFile(path.join(CHART_DIR, 'crds', file)),
      ]);
      expect(shipped.equals(ours), `deploy/chart/crds/${file} differs from crds/${file}: run npm run chart:sync`).to.equal(true);
    }
  });

  describe('helm install into the test apiserver', () => {
    let namespace: string;
    let kubeconfig: string;

    before(async () => {
      namespace = await createTestNamespace('helm-install');
      kubeconfig = testEnv().kubeconfigPath;
    });

    after(async () => {
      // The ClusterRole, its binding and the guardrail policy are cluster-scoped: remove them for later tests.
      const uninstalled = await helm(['uninstall', 'ecr-operator', '--namespace', namespace, '--kubeconfig', kubeconfig]);
      expect(uninstalled.code, uninstalled.stderr).to.equal(0);
      await deleteTestNamespace(namespace);
    });

    it('installs the rendered objects (the harness installed the CRDs, so --skip-crds)', async () => {
      const installed = await helm([
        'install', 'ecr-operator', CHART_DIR,
        '--namespace', namespace, '--kubeconfig', kubeconfig, '--skip-crds', '--wait=false',
      ]);
      expect(installed.code, installed.stderr).to.equal(0);
      expect(installed.stdout).to.match(/STATUS: deployed/);

      const kc = testEnv().kubeConfig();
      const deployment = await kc.makeApiClient(AppsV1Api).readNamespacedDeployment({ namespace, name: 'ecr-pullsecrets-operator' });
      expect(deployment.spec?.replicas).to.equal(2);
      await kc.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ namespace, name: 'ecr-pullsecrets-operator' });
      await kc.makeApiClient(CoreV1Api).readNamespacedService({ namespace, name: 'ecr-pullsecrets-operator-metrics' });
      const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
      const binding = await rbac.readClusterRoleBinding({ name: 'ecr-pullsecrets-operator' });
      expect(binding.subjects).to.deep.equal([{ kind: 'ServiceAccount', name: 'ecr-pullsecrets-operator', namespace }]);
      await rbac.readNamespacedRole({ namespace, name: 'ecr-pullsecrets-operator-leader-election' });
      const policies = await testEnv().kubectl(['get', 'validatingadmissionpolicy,validatingadmissionpolicybinding', '-o', 'name']);
      expect(policies.stdout).to.include('validatingadmissionpolicy.admissionregistration.k8s.io/ecr-pullsecrets-operator-guardrails');
      expect(policies.stdout).to.include('validatingadmissionpolicybinding.admissionregistration.k8s.io/ecr-pullsecrets-operator-guardrails');
      const pdb = await testEnv().kubectl(['get', 'poddisruptionbudget', '--namespace', namespace, '-o', 'name']);
      expect(pdb.stdout.trim()).to.equal('poddisruptionbudget.policy/ecr-pullsecrets-operator');
    });
  });
});
