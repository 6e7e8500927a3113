import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  type ClusterEcrRegistry,
  type ClusterEcrRegistrySpec,
  type ClusterEcrRegistryStatus,
  FAILED_NAMESPACES_LIMIT,
  NAMESPACE_NAME_LABEL,
} from '../../src/api/cluster-ecr-registry.ts';
import { API_GROUP, CLUSTER_ECR_REGISTRY, GROUP_VERSION } from '../../src/api/group.ts';
import { celRuleFailure, type KubectlResult, REPOSITORY_CRD_DIR } from '../support/controlplane/index.ts';
import { testEnv } from '../support/env.ts';

// ClusterEcrRegistry admission, spoken to the real apiserver through the real kubectl, as in
// admission.test.ts: the schema and CEL rules in crds/ are the only admission checks there are.
// The objects are cluster-scoped and the control plane is shared by every integration file, so each
// name carries this run's suffix and every object is deleted after its test.

const ACCOUNT = '123456789012';
const HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const RUN = randomBytes(3).toString('hex');
const RESOURCE = `${CLUSTER_ECR_REGISTRY.plural}.${API_GROUP}`;
const EVERY_NAMESPACE = { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: 'Exists' }] };
const CREDENTIALS = { secretRef: { namespace: 'ecr-pullsecrets-system', name: 'ecr-credentials' } };

type Spec = Partial<Record<keyof ClusterEcrRegistrySpec, unknown>>;

/** A ClusterEcrRegistry selecting team namespaces by label, with `spec` laid over it (undefined removes a field). */
function clusterRegistry(name: string, spec: Spec = {}): object {
  const merged: Record<string, unknown> = {
    registry: HOST,
    credentials: CREDENTIALS,
    namespaceSelector: { matchLabels: { 'ecr.example.com/pull': 'true' } },
    ...spec,
  };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return { apiVersion: GROUP_VERSION, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name: `${name}-${RUN}` }, spec: merged };
}

function kubectl(args: string[], stdin?: string): Promise<KubectlResult> {
  return testEnv().kubectl(args, stdin === undefined ? {} : { stdin });
}

const created: string[] = [];

function create(object: object): Promise<KubectlResult> {
  created.push((object as { metadata: { name: string } }).metadata.name);
  return kubectl(['create', '-f', '-'], JSON.stringify(object));
}

function expectAccepted(result: KubectlResult): void {
  expect(result.stderr, 'kubectl stderr').to.equal('');
  expect(result.code, 'kubectl exit code').to.equal(0);
}

/** The apiserver refused the object, and said so with every one of `fragments`. */
function expectRejected(result: KubectlResult, ...fragments: string[]): void {
  expect(result.code, `kubectl should fail; stdout: ${result.stdout}`).to.not.equal(0);
  expect(result.stderr).to.match(/is invalid/);
  for (const fragment of fragments) expect(result.stderr).to.include(fragment);
  // A CEL rule that errors at runtime (instead of returning false) would show up like this.
  expect(result.stderr).to.not.match(/evaluation error|no such overload|cost/i);
}

async function getJson(name: string): Promise<ClusterEcrRegistry> {
  const result = await kubectl(['get', RESOURCE, `${name}-${RUN}`, '-o', 'json']);
  expectAccepted(result);
  return JSON.parse(result.stdout) as ClusterEcrRegistry;
}

/** Writes status the way the operator does: through the status subresource. */
function patchStatus(name: string, status: object): Promise<KubectlResult> {
  return kubectl(['patch', RESOURCE, `${name}-${RUN}`, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

const NOW = '2026-01-02T03:04:05Z';

describe('admission of ClusterEcrRegistry by the real apiserver', () => {
  before(async () => {
    // Idempotent (create or replace), so this holds whether or not the harness already installed crds/.
    const installed = await testEnv().installCrds(REPOSITORY_CRD_DIR);
    expect(installed).to.include(RESOURCE);
  });

  afterEach(async () => {
    const names = created.splice(0).map((name) => `${CLUSTER_ECR_REGISTRY.kind.toLowerCase()}/${name}`);
    if (names.length > 0) expectAccepted(await kubectl(['delete', '--ignore-not-found', '--wait=false', ...names]));
  });

  describe('selecting namespaces', () => {
    it('accepts each form of selection: labels, expressions, a list, every namespace but some, and a list with a selector', async () => {
      const selections: Record<string, Spec> = {
        'by-label': {},
        'by-expression': {
          namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }, { key: 'sandbox', operator: 'DoesNotExist' }] },
        },
        'by-list': { namespaceSelector: undefined, namespaces: ['team-a', 'team-b'] },
        'all-but-system': { namespaceSelector: EVERY_NAMESPACE, excludeNamespaces: ['kube-system', 'kube-public'] },
        'list-and-label': { namespaces: ['legacy-app'], excludeNamespaces: ['team-c'] },
      };
      for (const [name, spec] of Object.entries(selections)) expectAccepted(await create(clusterRegistry(name, spec)));

      const stored = await getJson('all-but-system');
      expect(stored.spec.namespaceSelector).to.deep.equal(EVERY_NAMESPACE);
      expect(stored.spec.credentials.secretRef).to.deep.equal({
        ...CREDENTIALS.secretRef,
        accessKeyIDKey: 'AWS_ACCESS_KEY_ID',
        secretAccessKeyKey: 'AWS_SECRET_ACCESS_KEY',
        sessionTokenKey: 'AWS_SESSION_TOKEN',
      });
      // No operator runs here: status reads back as the schema's default, so kstatus says InProgress, not Current.
      expect(stored.status).to.deep.equal({ observedGeneration: -1 });
    });

    it('rejects a ClusterEcrRegistry that selects no namespace, and says how to select every one', async () => {
      const result = await create(clusterRegistry('selects-nothing', { namespaceSelector: undefined }));
      expectRejected(
        result,
        'spec.namespaceSelector: Required value: a ClusterEcrRegistry selects no namespace by default',
        'namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: Exists}]}',
      );
      const emptyList = await create(clusterRegistry('empty-list', { namespaceSelector: undefined, namespaces: [] }));
      expectRejected(emptyList, 'a ClusterEcrRegistry selects no namespace by default');
    });

    it('rejects an empty namespaceSelector instead of reading it as every namespace', async () => {
      for (const [index, namespaceSelector] of [{}, { matchLabels: {}, matchExpressions: [] }].entries()) {
        const result = await create(clusterRegistry(`empty-selector-${index}`, { namespaceSelector }));
        expectRejected(
          result,
          celRuleFailure('spec.namespaceSelector', namespaceSelector, 'an empty spec.namespaceSelector selects nothing here'),
          'To select every namespace, write namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: Exists}]}',
        );
      }
      // Not even next to a list: the author may have believed {} means every namespace.
      const withList = await create(clusterRegistry('empty-selector-and-list', { namespaceSelector: {}, namespaces: ['team-a'] }));
      expectRejected(withList, 'an empty spec.namespaceSelector selects nothing here');
    });

    it('rejects a namespace that is both listed and excluded, naming it', async () => {
      const one = await create(clusterRegistry('listed-and-excluded', { namespaces: ['team-a', 'team-b'], excludeNamespaces: ['team-b'] }));
      expectRejected(
        one,
        'spec.excludeNamespaces: Invalid value',
        'spec.namespaces and spec.excludeNamespaces both list "team-b": a namespace cannot be both selected by name and excluded',
      );
      const two = await create(clusterRegistry('two-contradictions', { namespaces: ['team-a', 'team-b', 'team-c'], excludeNamespaces: ['team-c', 'team-a'] }));
      expectRejected(two, 'both list "team-a":');
    });

    it('rejects namespace names that are not DNS labels, and a repeated one', async () => {
      const bad = await create(clusterRegistry('bad-namespace', { namespaces: ['Team_A'], excludeNamespaces: ['kube.system'] }));
      expectRejected(bad, 'spec.namespaces[0]: Invalid value: "Team_A"', 'spec.excludeNamespaces[0]: Invalid value: "kube.system"');
      const twice = await create(clusterRegistry('repeated-namespace', { namespaces: ['team-a', 'team-a'] }));
      expectRejected(twice, 'spec.namespaces[1]', 'Duplicate value');
    });

    it('rejects In and NotIn without values, and Exists and DoesNotExist with them, as the apiserver does for its own selectors', async () => {
      const cases = [
        [{ key: 'team', operator: 'In' }, 'spec.namespaceSelector.matchExpressions[0].values: Required value: values must be non-empty when operator is In or NotIn'],
        [{ key: 'team', operator: 'NotIn', values: [] }, 'values must be non-empty when operator is In or NotIn'],
        [{ key: 'team', operator: 'Exists', values: ['a'] }, 'spec.namespaceSelector.matchExpressions[0].values: Forbidden: values must be empty when operator is Exists or DoesNotExist'],
        [{ key: 'team', operator: 'Equals', values: ['a'] }, 'spec.namespaceSelector.matchExpressions[0].operator: Unsupported value: "Equals"'],
        [{ key: 'not a key', operator: 'Exists' }, 'spec.namespaceSelector.matchExpressions[0].key: Invalid value: "not a key"'],
      ] as const;
      for (const [index, [requirement, message]] of cases.entries()) {
        const result = await create(clusterRegistry(`requirement-${index}`, { namespaceSelector: { matchExpressions: [requirement] } }));
        expectRejected(result, message);
      }
    });

    it('rejects matchLabels keys and values that are not label keys and values', async () => {
      const badKey = await create(clusterRegistry('bad-label-key', { namespaceSelector: { matchLabels: { 'team name': 'a' } } }));
      expectRejected(badKey, 'spec.namespaceSelector.matchLabels', 'label keys must be qualified names');
      const badValue = await create(clusterRegistry('bad-label-value', { namespaceSelector: { matchLabels: { team: 'a b' } } }));
      expectRejected(badValue, 'spec.namespaceSelector.matchLabels.team: Invalid value: "a b"');
    });
  });

  describe('credentials and the pull secret', () => {
    it('requires the credentials Secret\'s namespace, as a DNS label', async () => {
      const missing = await create(clusterRegistry('no-credentials-namespace', { credentials: { secretRef: { name: 'ecr-credentials' } } }));
      expectRejected(missing, 'spec.credentials.secretRef.namespace: Required value');
      const invalid = await create(clusterRegistry('bad-credentials-namespace', { credentials: { secretRef: { namespace: 'Ops', name: 'ecr-credentials' } } }));
      expectRejected(invalid, 'spec.credentials.secretRef.namespace: Invalid value: "Ops"');
    });

    it('rejects the operator\'s own label and annotation keys on the pull secret, and accepts others', async () => {
      const managedBy = await create(clusterRegistry('own-label', { pullSecret: { labels: { 'app.kubernetes.io/managed-by': 'me', team: 'a' } } }));
      expectRejected(managedBy, celRuleFailure('spec.pullSecret.labels', {}, 'pullSecret.labels must not set app.kubernetes.io/managed-by'));
      for (const [index, key] of ['ecr.pullsecrets.io/owner', 'sub.ecr.pullsecrets.io/x'].entries()) {
        const result = await create(clusterRegistry(`own-label-domain-${index}`, { pullSecret: { labels: { [key]: 'x' } } }));
        expectRejected(result, celRuleFailure('spec.pullSecret.labels', {}, 'pullSecret.labels must not set keys under ecr.pullsecrets.io/'));
      }
      const annotations = await create(clusterRegistry('own-annotation', { pullSecret: { annotations: { 'ecr.pullsecrets.io/expires-at': 'never' } } }));
      expectRejected(annotations, celRuleFailure('spec.pullSecret.annotations', {}, 'pullSecret.annotations must not set keys under ecr.pullsecrets.io/'));
      const managedByAnnotation = await create(clusterRegistry('own-annotation-managed-by', { pullSecret: { annotations: { 'app.kubernetes.io/managed-by': 'me' } } }));
      expectRejected(managedByAnnotation, 'pullSecret.annotations must not set app.kubernetes.io/managed-by');

      const pullSecret = {
        name: 'ecr-pull',
        serviceAccounts: [{ name: 'default' }, { name: 'app' }],
        labels: { 'policy.example.com/tier': 'internal', 'app.kubernetes.io/part-of': 'platform' },
        annotations: { 'policy.example.com/reason': 'pulled by every team, see https://wiki.example.com/ecr' },
      };
      expectAccepted(await create(clusterRegistry('own-keys-free', { pullSecret })));
      expect((await getJson('own-keys-free')).spec.pullSecret).to.deep.equal(pullSecret);
    });

    it('rejects pull secret label keys and values that are not labels', async () => {
      const result = await create(clusterRegistry('bad-pull-labels', { pullSecret: { labels: { '-bad': 'ok', good: 'not ok' } } }));
      expectRejected(result, 'spec.pullSecret.labels.good: Invalid value: "not ok"', 'label keys must be qualified names');
    });

    it('rejects a ServiceAccount listed twice', async () => {
      const result = await create(clusterRegistry('sa-twice', { pullSecret: { serviceAccounts: [{ name: 'default' }, { name: 'default' }] } }));
      expectRejected(result, 'spec.pullSecret.serviceAccounts[1]', 'Duplicate value');
    });
  });

  describe('rules shared with EcrRegistry', () => {
    it('rejects a refreshBefore of 11h, with EcrRegistry\'s message, and accepts 10h', async () => {
      const result = await create(clusterRegistry('refresh-11h', { refresh: { refreshBefore: '11h' } }));
      expectRejected(
        result,
        celRuleFailure(
          'spec.refresh.refreshBefore',
          '11h',
          'refresh.refreshBefore must be between 1m and 10h (ECR tokens live 12 hours, and a token is never replaced before a tenth of its life)',
        ),
      );
      expectAccepted(await create(clusterRegistry('refresh-10h', { refresh: { refreshBefore: '10h' } })));
    });

    it('rejects a host that is not a private ECR registry, a contradicting region, and additional hosts in another region', async () => {
      expectRejected(await create(clusterRegistry('bad-host', { registry: 'evil.example.com' })), 'spec.registry: Invalid value: "evil.example.com"', 'should match');
      expectRejected(
        await create(clusterRegistry('bad-region', { region: 'eu-west-1' })),
        'spec.region "eu-west-1" contradicts spec.registry, whose host is in region "us-east-1"',
      );
      expectRejected(
        await create(clusterRegistry('other-region', { additionalRegistries: ['210987654321.dkr.ecr.us-west-2.amazonaws.com'] })),
        'every spec.additionalRegistries host must be in the same region as spec.registry',
      );
    });

    it('rejects an externalId without a roleArn', async () => {
      const result = await create(clusterRegistry('lone-external-id', { credentials: { ...CREDENTIALS, externalId: 'platform' } }));
      expectRejected(result, 'spec.credentials.externalId', 'credentials.externalId is only used when keys or the operator');
    });

    it('takes exactly one credentials source: keys, a ServiceAccount with a role, or the operator\'s own identity', async () => {
      const roleArn = 'arn:aws:iam::123456789012:role/ecr-pull';
      const serviceAccountRef = { namespace: 'ecr-pullsecrets-system', name: 'puller' };
      const cases: Array<[string, unknown]> = [
        ['no-source', { roleArn }],
        ['keys-and-operator', { ...CREDENTIALS, source: 'Operator' }],
        ['keys-and-account', { ...CREDENTIALS, serviceAccountRef, roleArn }],
      ];
      for (const [name, credentials] of cases) expectRejected(await create(clusterRegistry(name, { credentials })), 'credentials needs exactly one source');
      expectRejected(await create(clusterRegistry('account-no-role', { credentials: { serviceAccountRef } })), 'credentials.serviceAccountRef needs credentials.roleArn');
      expectRejected(await create(clusterRegistry('account-no-namespace', { credentials: { serviceAccountRef: { name: 'puller' }, roleArn } })), 'spec.credentials.serviceAccountRef.namespace');
      expectAccepted(await create(clusterRegistry('operator', { credentials: { source: 'Operator' } })));
      expectAccepted(await create(clusterRegistry('operator-role', { credentials: { source: 'Operator', roleArn, externalId: 'platform' } })));
      expectAccepted(await create(clusterRegistry('account', { credentials: { serviceAccountRef, roleArn } })));
    });
  });

  describe('status and kubectl', () => {
    it('stores a full status, typed as ClusterEcrRegistryStatus, through the status subresource, and prints the counts', async () => {
      expectAccepted(await create(clusterRegistry('with-status')));
      const status: ClusterEcrRegistryStatus = {
        observedGeneration: 1,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'PullSecretReady', message: '3 of 4 namespaces hold a valid token', lastTransitionTime: NOW, observedGeneration: 1 },
        ],
        pullSecretName: 'ecr-pull',
        expirationTime: '2026-01-02T15:04:05Z',
        lastRefreshTime: NOW,
        nextRefreshTime: '2026-01-02T09:04:05Z',
        namespacesSelected: 4,
        namespacesReady: 3,
        namespacesFailed: 1,
        failedNamespaces: [{ namespace: 'team-d', reason: 'PullSecretConflict', message: 'Secret team-d/ecr-pull exists and is not managed by this registry' }],
        inUseBy: [
          { namespace: 'team-a', name: 'app' },
          { namespace: 'team-b', name: 'app' },
        ],
      };
      expectAccepted(await patchStatus('with-status', status));
      expect((await getJson('with-status')).status).to.deep.equal(status);

      const row = await kubectl(['get', 'cecrreg', `with-status-${RUN}`]);
      expectAccepted(row);
      expect(row.stdout.split('\n')[0]).to.match(/^NAME\s+REGISTRY\s+READY\s+SELECTED\s+READY NS\s+FAILED\s+EXPIRES\s+AGE$/);
      expect(row.stdout.split('\n')[1]).to.match(new RegExp(`^with-status-${RUN}\\s+${HOST.replaceAll('.', '\\.')}\\s+True\\s+4\\s+3\\s+1\\s+2026-01-02T15:04:05Z\\s`));

      const wide = await kubectl(['get', 'clusterecrregistry', `with-status-${RUN}`, '-o', 'wide']);
      expectAccepted(wide);
      expect(wide.stdout.split('\n')[0]).to.match(/^NAME\s+REGISTRY\s+READY\s+REASON\s+PULL SECRET\s+SELECTED\s+READY NS\s+FAILED\s+EXPIRES\s+AGE$/);
      expect(wide.stdout.split('\n')[1]).to.match(/\sTrue\s+PullSecretReady\s+ecr-pull\s+4\s+3\s+1\s/);
    });

    it(`caps failedNamespaces at ${FAILED_NAMESPACES_LIMIT} entries`, async () => {
      expectAccepted(await create(clusterRegistry('many-failures')));
      const failure = (i: number) => ({ namespace: `team-${i}`, reason: 'PullSecretConflict', message: 'not ours' });
      const tooMany = Array.from({ length: FAILED_NAMESPACES_LIMIT + 1 }, (_, i) => failure(i));
      expectRejected(await patchStatus('many-failures', { failedNamespaces: tooMany }), 'status.failedNamespaces', `must have at most ${FAILED_NAMESPACES_LIMIT} items`);
      expectAccepted(await patchStatus('many-failures', { namespacesFailed: 21, failedNamespaces: tooMany.slice(0, FAILED_NAMESPACES_LIMIT) }));
    });

    it('is cluster-scoped, in the ecr category, under the short name cecrreg', async () => {
      const resources = await kubectl(['api-resources', '--api-group', API_GROUP, '--no-headers']);
      expectAccepted(resources);
      const row = resources.stdout.split('\n').find((line) => line.startsWith(`${CLUSTER_ECR_REGISTRY.plural} `));
      expect(row, resources.stdout).to.match(/^clusterecrregistries\s+cecrreg\s+ecr\.pullsecrets\.io\/v1alpha1\s+false\s+ClusterEcrRegistry$/);

      const category = await kubectl(['api-resources', '--categories', 'ecr', '-o', 'name']);
      expectAccepted(category);
      expect(category.stdout).to.include(RESOURCE);
    });

    it('explains spec.namespaceSelector, including how to select every namespace', async () => {
      const result = await kubectl(['explain', 'clusterecrregistry.spec.namespaceSelector']);
      expectAccepted(result);
      expect(result.stdout).to.include('Namespaces whose labels match get the pull secret');
      expect(result.stdout).to.include('an empty selector is refused here');
      expect(result.stdout).to.include('kubernetes.io/metadata.name');
      expect(result.stdout).to.match(/matchLabels\s+<map\[string\]string>/);
      expect(result.stdout).to.match(/matchExpressions\s+<\[\]Object>/);

      const recursive = await kubectl(['explain', 'cecrreg.spec', '--recursive']);
      expectAccepted(recursive);
      for (const field of ['namespaces', 'excludeNamespaces', 'namespace', 'labels', 'annotations', 'serviceAccounts', 'refreshBefore', 'operator']) {
        expect(recursive.stdout).to.include(field);
      }
    });
  });
});
