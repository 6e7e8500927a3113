import path from 'node:path';
import { expect } from 'chai';
import type { EcrRegistrySpec, EcrRegistryStatus } from '../../src/api/ecr-registry.ts';
import { API_GROUP, GROUP_VERSION } from '../../src/api/group.ts';
import type { ImageImportStatus } from '../../src/api/image-import.ts';
import { type KubectlResult, REPOSITORY_CRD_DIR } from '../support/controlplane/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';

// These tests speak to the real apiserver through the real kubectl, so what they assert is what a
// user sees: the schema and CEL rules in crds/ are the only admission checks there are.

const samplesDir = path.resolve(import.meta.dirname, '../../deploy/samples');
const ACCOUNT = '123456789012';
const HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;

type Spec = Record<string, unknown>;

function ecrRegistry(name: string, spec: Spec): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'EcrRegistry',
    metadata: { name },
    spec: { registry: HOST, credentials: { secretRef: { name: 'ecr-credentials' } }, ...spec },
  };
}

function imageImport(name: string, spec: Spec): object {
  return {
    apiVersion: GROUP_VERSION,
    kind: 'ImageImport',
    metadata: { name },
    spec: { registryRef: { name: 'ecr-pull' }, repository: 'team/app', ...spec },
  };
}

function kubectl(args: string[], stdin?: string): Promise<KubectlResult> {
  return testEnv().kubectl(args, stdin === undefined ? {} : { stdin });
}

function create(namespace: string, object: object): Promise<KubectlResult> {
  return kubectl(['create', '--namespace', namespace, '-f', '-'], JSON.stringify(object));
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

interface StoredObject {
  spec: Record<string, unknown>;
  status?: unknown;
}

async function getJson(namespace: string, resource: string, name: string): Promise<StoredObject> {
  const result = await kubectl(['get', '--namespace', namespace, resource, name, '-o', 'json']);
  expectAccepted(result);
  return JSON.parse(result.stdout) as StoredObject;
}

/** Writes status the way the operator does: through the status subresource. */
function patchStatus(namespace: string, resource: string, name: string, status: object): Promise<KubectlResult> {
  const patch = JSON.stringify({ status });
  return kubectl(['patch', '--namespace', namespace, resource, name, '--subresource=status', '--type=merge', '-p', patch]);
}

const NOW = '2026-01-02T03:04:05Z';
const DIGEST = `sha256:${'a'.repeat(64)}`;
const OLD_DIGEST = `sha256:${'b'.repeat(64)}`;

describe('admission of EcrRegistry and ImageImport by the real apiserver', () => {
  let namespace: string;

  before(async () => {
    // Idempotent (create or replace), so this holds whether or not the harness already installed crds/.
    const installed = await testEnv().installCrds(REPOSITORY_CRD_DIR);
    expect(installed).to.include.members([`ecrregistries.${API_GROUP}`, `imageimports.${API_GROUP}`]);
  });

  beforeEach(async () => {
    namespace = await createTestNamespace('admission');
  });

  afterEach(async () => {
    await deleteTestNamespace(namespace);
  });

  describe('samples', () => {
    it('accepts deploy/samples as they are, and fills in the schema defaults', async () => {
      const applied = await kubectl(['apply', '--namespace', namespace, '-k', samplesDir]);
      expectAccepted(applied);
      expect(applied.stdout).to.include(`ecrregistry.${API_GROUP}/ecr-pull created`);
      expect(applied.stdout).to.include(`imageimport.${API_GROUP}/team-app created`);

      const registry = await getJson(namespace, 'ecrregistry', 'ecr-pull');
      expect(registry.spec.credentials).to.deep.equal({
        secretRef: {
          name: 'ecr-credentials',
          accessKeyIDKey: 'AWS_ACCESS_KEY_ID',
          secretAccessKeyKey: 'AWS_SECRET_ACCESS_KEY',
          sessionTokenKey: 'AWS_SESSION_TOKEN',
        },
      });
      const image = await getJson(namespace, 'imageimport', 'team-app');
      expect(image.spec.tags).to.deep.equal(['latest', 'v1']);
      expect(image.spec.deprecated).to.equal(false);
      expect(image.spec.importPolicy).to.deep.equal({ interval: '1h', suspend: false });
      // No operator runs here: status reads back as the schema's default, so kstatus says InProgress, not Current.
      expect(registry.status).to.deep.equal({ observedGeneration: -1 });
    });

    it('lists every kind under the ecr category and their short names, with the printer columns', async () => {
      expectAccepted(await kubectl(['apply', '--namespace', namespace, '-k', samplesDir]));

      const registries = await kubectl(['get', '--namespace', namespace, 'ecrreg']);
      expectAccepted(registries);
      expect(registries.stdout.split('\n')[0]).to.match(/^NAME\s+REGISTRY\s+READY\s+EXPIRES\s+AGE$/);
      expect(registries.stdout).to.include(HOST);

      const images = await kubectl(['get', '--namespace', namespace, 'imgimport']);
      expectAccepted(images);
      expect(images.stdout.split('\n')[0]).to.match(/^NAME\s+REPOSITORY\s+DEFAULT TAG\s+DIGEST\s+READY\s+AGE$/);

      const kinds = await kubectl(['api-resources', '--categories', 'ecr', '-o', 'name']);
      expectAccepted(kinds);
      expect(kinds.stdout.trim().split('\n').sort()).to.deep.equal([
        `clusterecrregistries.${API_GROUP}`,
        `ecrregistries.${API_GROUP}`,
        `imageimports.${API_GROUP}`,
      ]);

      // `get ecr` also lists the cluster-scoped ClusterEcrRegistries, which other tests in this run may own.
      const category = await kubectl(['get', '--namespace', namespace, 'ecr', '-o', 'name']);
      expectAccepted(category);
      const namespaced = category.stdout.trim().split('\n').filter((line) => !line.startsWith(`clusterecrregistry.${API_GROUP}/`));
      expect(namespaced.sort()).to.deep.equal([`ecrregistry.${API_GROUP}/ecr-pull`, `imageimport.${API_GROUP}/team-app`]);
    });
  });

  describe('EcrRegistry', () => {
    it('accepts the commercial, GovCloud, FIPS, China and dual-stack host forms', async () => {
      const hosts = [
        `${ACCOUNT}.dkr.ecr.eu-central-1.amazonaws.com`,
        `${ACCOUNT}.dkr.ecr-fips.us-gov-west-1.amazonaws.com`,
        `${ACCOUNT}.dkr.ecr-fips.us-east-1.amazonaws.com`,
        `${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn`,
        `${ACCOUNT}.dkr-ecr.ap-southeast-2.on.aws`,
        `${ACCOUNT}.dkr-ecr-fips.us-east-2.on.aws`,
      ];
      for (const [index, registry] of hosts.entries()) {
        const result = await create(namespace, ecrRegistry(`host-${index}`, { registry }));
        expectAccepted(result);
      }
    });

    it('rejects registry hosts that are not a private ECR registry, naming the pattern', async () => {
      const hosts = [
        'evil.example.com',
        '123.dkr.ecr.us-east-1.amazonaws.com',
        `${HOST}.evil.com`,
        `https://${HOST}`,
        `${HOST}/team/app`,
        `${ACCOUNT}.dkr-ecr.us-east-1.amazonaws.com`,
        `${ACCOUNT}.dkr.ecr.us-east-1.on.aws`,
      ];
      for (const [index, registry] of hosts.entries()) {
        const result = await create(namespace, ecrRegistry(`bad-host-${index}`, { registry }));
        expectRejected(result, `spec.registry: Invalid value: "${registry}"`, 'should match');
      }
    });

    it('rejects a China host outside a cn- region, and a cn- region outside China', async () => {
      for (const [index, registry] of [`${HOST}.cn`, `${ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com`].entries()) {
        const result = await create(namespace, ecrRegistry(`partition-${index}`, { registry }));
        expectRejected(result, 'spec.registry', 'China regions (cn-*) use hosts ending in .amazonaws.com.cn');
      }
    });

    it('rejects a refreshBefore that is not a Go duration', async () => {
      const result = await create(namespace, ecrRegistry('bad-duration', { refresh: { refreshBefore: '10 minutes' } }));
      expectRejected(result, 'spec.refresh.refreshBefore: Invalid value: "10 minutes"', 'should match');
    });

    it('rejects a refreshBefore outside 1m..10h and accepts one inside', async () => {
      for (const [index, refreshBefore] of ['30s', '10h1m', '11h', '12h'].entries()) {
        const result = await create(namespace, ecrRegistry(`refresh-${index}`, { refresh: { refreshBefore } }));
        expectRejected(result, 'refresh.refreshBefore must be between 1m and 10h (ECR tokens live 12 hours');
      }
      for (const [index, refreshBefore] of ['1m', '2h30m', '10h'].entries()) {
        expectAccepted(await create(namespace, ecrRegistry(`refresh-ok-${index}`, { refresh: { refreshBefore } })));
      }
    });

    it('rejects a region that contradicts the host, and accepts the matching one', async () => {
      const result = await create(namespace, ecrRegistry('wrong-region', { region: 'eu-west-1' }));
      expectRejected(
        result,
        'spec.region: Invalid value',
        'spec.region "eu-west-1" contradicts spec.registry, whose host is in region "us-east-1"',
      );
      expectAccepted(await create(namespace, ecrRegistry('right-region', { region: 'us-east-1' })));
    });

    it('rejects an externalId without a roleArn, and accepts it with one', async () => {
      const secretRef = { name: 'ecr-credentials' };
      const result = await create(namespace, ecrRegistry('lone-external-id', { credentials: { secretRef, externalId: 'tenant-42' } }));
      expectRejected(result, 'spec.credentials.externalId', 'credentials.externalId is only used when keys assume a role');

      const roleArn = `arn:aws-us-gov:iam::${ACCOUNT}:role/ci/ecr-pull`;
      const accepted = await create(namespace, ecrRegistry('role', { credentials: { secretRef, roleArn, externalId: 'tenant-42' } }));
      expectAccepted(accepted);
    });

    it('takes exactly one credentials source: keys in a Secret, or a ServiceAccount with a role', async () => {
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/ecr-pull`;
      const none = await create(namespace, ecrRegistry('no-source', { credentials: { roleArn } }));
      expectRejected(none, 'credentials needs exactly one source');
      const both = await create(namespace, ecrRegistry('two-sources', { credentials: { secretRef: { name: 'ecr-credentials' }, serviceAccountRef: { name: 'puller' }, roleArn } }));
      expectRejected(both, 'credentials needs exactly one source');
      const noRole = await create(namespace, ecrRegistry('web-identity-no-role', { credentials: { serviceAccountRef: { name: 'puller' } } }));
      expectRejected(noRole, 'spec.credentials.roleArn', 'credentials.serviceAccountRef needs credentials.roleArn');
      const externalId = await create(namespace, ecrRegistry('web-identity-external-id', { credentials: { serviceAccountRef: { name: 'puller' }, roleArn, externalId: 'tenant-42' } }));
      expectRejected(externalId, 'spec.credentials.externalId');
      // The operator's own identity is for ClusterEcrRegistries only: an EcrRegistry has no such field.
      const operator = await create(namespace, ecrRegistry('operator-source', { credentials: { source: 'Operator' } as unknown as Spec['credentials'] }));
      expect(operator.code).to.not.equal(0);
      expect(operator.stderr).to.include('unknown field "spec.credentials.source"');

      expectAccepted(await create(namespace, ecrRegistry('web-identity', { credentials: { serviceAccountRef: { name: 'puller' }, roleArn } })));
      const stored = await getJson(namespace, 'ecrregistry', 'web-identity');
      expect((stored.spec as unknown as EcrRegistrySpec).credentials.serviceAccountRef).to.deep.equal({ name: 'puller', audience: 'sts.amazonaws.com' });
    });

    it('rejects a roleArn that is not an IAM role ARN', async () => {
      const credentials = { secretRef: { name: 'ecr-credentials' }, roleArn: `arn:aws:iam::${ACCOUNT}:user/alice` };
      const result = await create(namespace, ecrRegistry('user-arn', { credentials }));
      expectRejected(result, 'spec.credentials.roleArn', 'should match');
    });

    it('rejects additionalRegistries in another region or repeating the registry; accepts other accounts in the region', async () => {
      const otherRegion = await create(
        namespace,
        ecrRegistry('other-region', { additionalRegistries: ['210987654321.dkr.ecr.us-west-2.amazonaws.com'] }),
      );
      expectRejected(
        otherRegion,
        'spec.additionalRegistries',
        'every spec.additionalRegistries host must be in the same region as spec.registry',
      );

      const repeated = await create(namespace, ecrRegistry('repeated', { additionalRegistries: [HOST] }));
      expectRejected(repeated, 'spec.additionalRegistries must not repeat spec.registry');

      const sameRegion = ['210987654321.dkr.ecr.us-east-1.amazonaws.com', '210987654321.dkr.ecr-fips.us-east-1.amazonaws.com'];
      expectAccepted(await create(namespace, ecrRegistry('same-region', { additionalRegistries: sameRegion })));
    });

    it('rejects Secret key names that cannot be Secret data keys', async () => {
      const credentials = { secretRef: { name: 'ecr-credentials', accessKeyIDKey: 'AWS ACCESS KEY' } };
      const result = await create(namespace, ecrRegistry('bad-key', { credentials }));
      expectRejected(result, 'spec.credentials.secretRef.accessKeyIDKey: Invalid value: "AWS ACCESS KEY"', 'should match');
    });

    it('rejects an endpoint that is not an http(s) origin, and admits a loopback emulator for the allowlist to judge', async () => {
      for (const [index, endpoint] of ['ftp://api.ecr.us-east-1.amazonaws.com', 'https://example.com/ecr?x=1'].entries()) {
        const result = await create(namespace, ecrRegistry(`bad-endpoint-${index}`, { endpoint }));
        expectRejected(result, 'spec.endpoint', 'should match');
      }
      expectAccepted(await create(namespace, ecrRegistry('emulator', { endpoint: 'http://127.0.0.1:4566' })));
      expectAccepted(await create(namespace, ecrRegistry('vpce', { endpoint: 'https://api.ecr.us-east-1.amazonaws.com' })));
    });

    it('rejects ServiceAccount and pull secret names that are not Kubernetes names', async () => {
      const result = await create(namespace, ecrRegistry('bad-names', { pullSecret: { name: 'Pull_Secret', serviceAccounts: [{ name: 'App' }] } }));
      expectRejected(result, 'spec.pullSecret.name: Invalid value: "Pull_Secret"', 'spec.pullSecret.serviceAccounts[0].name');
    });

    it('stores a full status, typed as EcrRegistryStatus, through the status subresource', async () => {
      expectAccepted(await create(namespace, ecrRegistry('with-status', {})));
      const status: EcrRegistryStatus = {
        observedGeneration: 1,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'TokenRefreshed', message: 'pull secret holds a token', lastTransitionTime: NOW, observedGeneration: 1 },
        ],
        pullSecretName: 'with-status',
        expirationTime: '2026-01-02T15:04:05Z',
        lastRefreshTime: NOW,
        nextRefreshTime: '2026-01-02T09:04:05Z',
        serviceAccounts: [{ name: 'app' }],
        inUseBy: [{ name: 'team-app' }],
      };
      expectAccepted(await patchStatus(namespace, 'ecrregistry', 'with-status', status));
      expect((await getJson(namespace, 'ecrregistry', 'with-status')).status).to.deep.equal(status);

      const wide = await kubectl(['get', '--namespace', namespace, 'ecrregistry', 'with-status', '-o', 'wide']);
      expectAccepted(wide);
      expect(wide.stdout.split('\n')[0]).to.match(/^NAME\s+REGISTRY\s+READY\s+REASON\s+PULL SECRET\s+EXPIRES\s+AGE$/);
      expect(wide.stdout.split('\n')[1]).to.match(/\sTrue\s+TokenRefreshed\s+with-status\s/);
    });

    it('refuses a condition status other than True, False or Unknown', async () => {
      expectAccepted(await create(namespace, ecrRegistry('bad-condition', {})));
      const status = { conditions: [{ type: 'Ready', status: 'Yes', reason: 'Fine', message: '', lastTransitionTime: NOW }] };
      const result = await patchStatus(namespace, 'ecrregistry', 'bad-condition', status);
      expectRejected(result, 'status.conditions[0].status: Unsupported value: "Yes"');
    });

    it('explains spec.credentials with its field descriptions', async () => {
      const result = await kubectl(['explain', 'ecrregistry.spec.credentials']);
      expectAccepted(result);
      expect(result.stdout).to.include('The AWS credentials used to call ecr:GetAuthorizationToken');
      // secretRef and serviceAccountRef are alternatives (a CEL rule wants exactly one), so neither is required.
      expect(result.stdout).to.match(/secretRef\s+<Object>\n/);
      expect(result.stdout).to.match(/serviceAccountRef\s+<Object>\n/);
      expect(result.stdout).to.include('There is no');
      expect(result.stdout).to.match(/roleArn\s+<string>/);
      expect(result.stdout).to.match(/externalId\s+<string>/);

      const recursive = await kubectl(['explain', 'ecrreg.spec', '--recursive']);
      expectAccepted(recursive);
      for (const field of ['registry', 'additionalRegistries', 'sessionTokenKey', 'endpoint', 'serviceAccounts', 'refreshBefore']) {
        expect(recursive.stdout).to.include(field);
      }
    });
  });

  describe('ImageImport', () => {
    it('rejects repository names ECR rejects, naming ECR\'s pattern', async () => {
      for (const [index, repository] of ['Team/App', '-app', 'team//app', 'team/app/', 'a'].entries()) {
        const result = await create(namespace, imageImport(`bad-repo-${index}`, { repository }));
        expectRejected(result, `spec.repository: Invalid value: "${repository}"`);
      }
      expectAccepted(await create(namespace, imageImport('nested-repo', { repository: 'org/team/app.web_v2-x' })));
    });

    it('rejects a defaultTag that is not one of the tags', async () => {
      const result = await create(namespace, imageImport('stray-default', { tags: ['latest', 'v1'], defaultTag: 'v2' }));
      expectRejected(result, 'spec.defaultTag', 'spec.defaultTag "v2" must be one of spec.tags [latest, v1]');
    });

    it('rejects a defaultTag other than latest when tags default to [latest]', async () => {
      const result = await create(namespace, imageImport('default-tags', { defaultTag: 'v1' }));
      expectRejected(result, 'spec.defaultTag "v1" must be one of spec.tags [latest]');
      expectAccepted(await create(namespace, imageImport('default-latest', { defaultTag: 'latest' })));
    });

    it('rejects invalid tags and an empty tag list', async () => {
      expectRejected(await create(namespace, imageImport('bad-tag', { tags: ['-bad'] })), 'spec.tags[0]', 'should match');
      expectRejected(await create(namespace, imageImport('no-tags', { tags: [] })), 'spec.tags', 'should have at least 1 items');
      expectRejected(await create(namespace, imageImport('twice', { tags: ['v1', 'v1'] })), 'spec.tags[1]', 'Duplicate value');
    });

    it('rejects workspace defaults that are not positive quantities, and accepts numbers and strings', async () => {
      const invalid = await create(namespace, imageImport('bad-memory', { workspaceDefaults: { memory: 'lots' } }));
      expectRejected(invalid, 'spec.workspaceDefaults.memory', 'should match', 'workspaceDefaults.memory must be a Kubernetes quantity greater than zero');

      const zero = await create(namespace, imageImport('zero-cpu', { workspaceDefaults: { cpu: '0' } }));
      expectRejected(zero, 'workspaceDefaults.cpu must be a Kubernetes quantity greater than zero');

      const negative = await create(namespace, imageImport('negative-disk', { workspaceDefaults: { disk: '-1Gi' } }));
      expectRejected(negative, 'workspaceDefaults.disk must be a Kubernetes quantity greater than zero');

      const valid = await create(namespace, imageImport('sized', { workspaceDefaults: { cpu: 2, memory: '4Gi', disk: '20Gi' } }));
      expectAccepted(valid);
      const stored = await getJson(namespace, 'imageimport', 'sized');
      expect(stored.spec.workspaceDefaults).to.deep.equal({ cpu: 2, memory: '4Gi', disk: '20Gi' });
    });

    it('rejects an import interval below 10s or above 168h, and one that is not a duration', async () => {
      for (const [index, interval] of ['5s', '9999ms', '169h'].entries()) {
        const result = await create(namespace, imageImport(`interval-${index}`, { importPolicy: { interval } }));
        expectRejected(result, 'importPolicy.interval must be between 10s and 168h');
      }
      const prose = await create(namespace, imageImport('interval-prose', { importPolicy: { interval: 'hourly' } }));
      expectRejected(prose, 'spec.importPolicy.interval: Invalid value: "hourly"', 'should match');
      expectAccepted(await create(namespace, imageImport('interval-fast', { importPolicy: { interval: '10s' } })));
    });

    it('stores a full status, typed as ImageImportStatus, and shows the short digest column', async () => {
      expectAccepted(await create(namespace, imageImport('with-status', { tags: ['latest', 'v1'] })));
      const image = `${HOST}/team/app@${DIGEST}`;
      const status: ImageImportStatus = {
        observedGeneration: 1,
        conditions: [{ type: 'Ready', status: 'False', reason: 'TagNotFound', message: 'tag v1 not found', lastTransitionTime: NOW }],
        lastImportTime: NOW,
        nextImportTime: '2026-01-02T04:04:05Z',
        pullSecretName: 'ecr-pull',
        defaultTag: 'latest',
        defaultDigest: DIGEST,
        defaultShortDigest: 'a'.repeat(12),
        tags: [
          {
            tag: 'latest',
            digest: DIGEST,
            image,
            pushedAt: NOW,
            sizeBytes: 5_000_000_000,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            platforms: [
              { os: 'linux', architecture: 'amd64', digest: `sha256:${'c'.repeat(64)}` },
              { os: 'linux', architecture: 'arm64', variant: 'v8', digest: `sha256:${'d'.repeat(64)}` },
            ],
            config: { entrypoint: ['/app'], cmd: ['serve'], workingDir: '/srv', user: '1000', labels: { 'org.opencontainers.image.source': 'https://example.com' } },
            pullable: true,
            digestChangedAt: NOW,
            history: [{ digest: OLD_DIGEST, firstSeen: '2025-12-01T00:00:00Z' }],
            conditions: [{ type: 'Resolved', status: 'True', reason: 'Resolved', message: '', lastTransitionTime: NOW }],
          },
          {
            tag: 'v1',
            conditions: [{ type: 'Resolved', status: 'False', reason: 'TagNotFound', message: 'v1 is not in team/app', lastTransitionTime: NOW }],
          },
        ],
      };
      expectAccepted(await patchStatus(namespace, 'imageimport', 'with-status', status));
      expect((await getJson(namespace, 'imageimport', 'with-status')).status).to.deep.equal(status);

      const row = await kubectl(['get', '--namespace', namespace, 'imageimport', 'with-status', '--no-headers']);
      expectAccepted(row);
      expect(row.stdout).to.match(/^with-status\s+team\/app\s+latest\s+a{12}\s+False\s/);
    });

    it('caps a tag history at 10 entries', async () => {
      expectAccepted(await create(namespace, imageImport('long-history', {})));
      const history = Array.from({ length: 11 }, (_, i) => ({ digest: `sha256:${String(i).padStart(64, '0')}` }));
      const result = await patchStatus(namespace, 'imageimport', 'long-history', { tags: [{ tag: 'latest', history }] });
      expectRejected(result, 'status.tags[0].history', 'must have at most 10 items');
    });

    it('rejects a url that is not http(s)', async () => {
      const result = await create(namespace, imageImport('bad-url', { url: 'javascript:alert(1)' }));
      expectRejected(result, 'spec.url', 'should match');
    });

    it('requires registryRef.name and repository', async () => {
      const object = { apiVersion: GROUP_VERSION, kind: 'ImageImport', metadata: { name: 'empty' }, spec: { registryRef: {} } };
      const result = await create(namespace, object);
      expectRejected(result, 'spec.registryRef.name: Required value', 'spec.repository: Required value');
    });
  });
});
