import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { load as loadYaml } from 'js-yaml';
import type { NamespaceFailure } from '../../src/api/cluster-ecr-registry.ts';
import { GROUP_VERSION } from '../../src/api/group.ts';
import type { Condition } from '../../src/api/meta.ts';
import {
  ARGOCD_DIR,
  type ArgoHealthStatus,
  healthScripts,
  type KstatusStatus,
  type StatusReport,
  statusReports,
} from '../support/status-tools.ts';

/**
 * The shipped Argo CD health checks (deploy/argocd) and kstatus (cli-utils, as Flux and `kubectl
 * wait` read status), run by their real engines over hand-written objects in every state the status
 * contract defines. Needs no control plane, only the Go tool (built once by `npm run controlplane`).
 */

const KINDS = ['EcrRegistry', 'ImageImport', 'ClusterEcrRegistry'] as const;
type Kind = (typeof KINDS)[number];

const T = '2025-01-01T00:00:00Z';

function condition(type: string, status: Condition['status'], reason: string, message: string, observedGeneration = 1): Condition {
  return { type, status, reason, message, lastTransitionTime: T, observedGeneration };
}

interface ObjectState {
  generation?: number;
  /** null: no status at all (a CRD without the status default). */
  observedGeneration?: number | null;
  conditions?: Condition[];
  /** Status fields besides observedGeneration and conditions. */
  fields?: Record<string, unknown>;
  deleting?: boolean;
}

function object(kind: Kind, state: ObjectState) {
  const generation = state.generation ?? 1;
  const metadata: Record<string, unknown> = { name: 'fixture', generation, uid: '00000000-0000-0000-0000-000000000001' };
  if (kind !== 'ClusterEcrRegistry') metadata.namespace = 'team-a';
  if (state.deleting) {
    metadata.deletionTimestamp = T;
    metadata.finalizers = ['ecr.pullsecrets.io/cleanup'];
  }
  const base = { apiVersion: GROUP_VERSION, kind, metadata, spec: {} };
  if (state.observedGeneration === null) return base;
  const status: Record<string, unknown> = { ...state.fields, observedGeneration: state.observedGeneration ?? generation };
  if (state.conditions) status.conditions = state.conditions;
  return { ...base, status };
}

const ready = condition('Ready', 'True', 'PullSecretReady', 'Pull secret prod holds a token valid until 2025-01-01T12:00:00Z');
const refreshed = condition('Refreshed', 'True', 'TokenRefreshed', 'Token refreshed; valid until 2025-01-01T12:00:00Z');
const notReady = (reason: string, message: string) => condition('Ready', 'False', reason, message);
const stalled = (reason: string, message: string) => condition('Stalled', 'True', reason, message);
const reconciling = (reason: string, message: string) => condition('Reconciling', 'True', reason, message);

interface Row {
  kind: Kind;
  state: string;
  object: object;
  kstatus: KstatusStatus;
  argo: ArgoHealthStatus;
  /** Argo CD's message, exactly (string) or matched (RegExp). */
  message: string | RegExp;
  /** The health.lua's own answer, where gitops-engine answers before the script (deletion). */
  script?: { status: ArgoHealthStatus; message: string | RegExp };
}

/** States every registry kind (namespaced and cluster-scoped) shares: before status, and the finalizer at work. */
function lifecycleRows(kind: 'EcrRegistry' | 'ClusterEcrRegistry', readyCondition: Condition): Row[] {
  const waiting = /^Waiting for the controller to observe generation \d+$/;
  return [
    { kind, state: 'just created (observedGeneration -1)', object: object(kind, { observedGeneration: -1 }), kstatus: 'InProgress', argo: 'Progressing', message: waiting },
    {
      kind,
      state: 'spec changed, not yet observed',
      object: object(kind, { generation: 2, observedGeneration: 1, conditions: [readyCondition, refreshed] }),
      kstatus: 'InProgress',
      argo: 'Progressing',
      message: 'Waiting for the controller to observe generation 2',
    },
    {
      kind,
      state: 'no status at all (kstatus cannot tell it apart from done)',
      object: object(kind, { observedGeneration: null }),
      kstatus: 'Current',
      argo: 'Progressing',
      message: waiting,
    },
    {
      kind,
      state: 'status written without conditions',
      object: object(kind, { conditions: [] }),
      kstatus: 'Current',
      argo: 'Progressing',
      message: 'Waiting for the controller to report status',
    },
    {
      kind,
      state: 'Ready Unknown',
      object: object(kind, { conditions: [condition('Ready', 'Unknown', 'Refreshing', 'First refresh under way')] }),
      kstatus: 'InProgress',
      argo: 'Progressing',
      message: 'Refreshing: First refresh under way',
    },
    {
      kind,
      state: 'deleted, finalizer running',
      object: object(kind, { deleting: true, conditions: [readyCondition] }),
      kstatus: 'Terminating',
      argo: 'Progressing',
      message: 'Pending deletion',
      script: { status: 'Progressing', message: 'Deleting' },
    },
  ];
}

function ecrRegistryRows(): Row[] {
  const kind = 'EcrRegistry';
  return [
    ...lifecycleRows(kind, ready),
    { kind, state: 'Ready', object: object(kind, { conditions: [ready, refreshed] }), kstatus: 'Current', argo: 'Healthy', message: `PullSecretReady: ${ready.message}` },
    {
      kind,
      state: 'Ready while the refresh fails',
      object: object(kind, {
        conditions: [ready, condition('Refreshed', 'False', 'CredentialsRejected', 'InvalidSignatureException: signature mismatch; the served token has 5h59m left')],
      }),
      kstatus: 'Current',
      argo: 'Healthy',
      message:
        'The served token is still valid, but refreshing it fails: CredentialsRejected: InvalidSignatureException: signature mismatch; the served token has 5h59m left',
    },
    ...(
      [
        ['CredentialsRejected', 'InvalidSignatureException: The request signature we calculated does not match'],
        ['InvalidSpec', 'spec.region us-west-2 does not match the registry host'],
        ['EndpointNotAllowed', 'endpoint https://ecr.attacker.example is not in the operator allowlist'],
        ['PullSecretConflict', 'Secret taken exists and is not managed by this EcrRegistry'],
        ['CredentialsSecretNotFound', 'Secret aws-keys not found'],
      ] as const
    ).map(
      ([reason, message]): Row => ({
        kind,
        state: `Stalled: ${reason}`,
        object: object(kind, { conditions: [notReady(reason, message), stalled(reason, message)] }),
        kstatus: 'Failed',
        argo: 'Degraded',
        message: `${reason}: ${message}`,
      }),
    ),
    {
      kind,
      state: 'first token pending, throttled (Reconciling)',
      object: object(kind, { conditions: [notReady('Throttled', 'Rate exceeded; retrying'), reconciling('Throttled', 'Rate exceeded; retrying')] }),
      kstatus: 'InProgress',
      argo: 'Progressing',
      message: 'Throttled: Rate exceeded; retrying',
    },
    {
      kind,
      state: 'Ready False without Reconciling or Stalled',
      object: object(kind, { conditions: [notReady('EcrUnreachable', 'connect ECONNREFUSED')] }),
      kstatus: 'InProgress',
      argo: 'Progressing',
      message: 'EcrUnreachable: connect ECONNREFUSED',
    },
    {
      // Outside the contract (Reconciling only while not Ready): kstatus and Argo CD's Flux checks differ here.
      kind,
      state: 'Ready and Reconciling (outside the contract)',
      object: object(kind, { conditions: [ready, reconciling('Refreshing', 'Refreshing the token')] }),
      kstatus: 'InProgress',
      argo: 'Healthy',
      message: `PullSecretReady: ${ready.message}`,
    },
    {
      kind,
      state: 'deleted while in use',
      object: object(kind, { deleting: true, conditions: [ready, condition('Deleting', 'True', 'InUse', 'Used by ImageImports app, tools')] }),
      kstatus: 'Terminating',
      argo: 'Progressing',
      message: 'Pending deletion',
      script: { status: 'Progressing', message: 'InUse: Used by ImageImports app, tools' },
    },
  ];
}

const imported = condition('Ready', 'True', 'Imported', '2 of 2 tags resolved');
const suspendedCondition = condition('Suspended', 'True', 'Suspended', 'spec.importPolicy.suspend stops scheduled imports');

const importRows: Row[] = [
  { kind: 'ImageImport', state: 'just created (observedGeneration -1)', object: object('ImageImport', { observedGeneration: -1 }), kstatus: 'InProgress', argo: 'Progressing', message: 'Waiting for the controller to observe generation 1' },
  { kind: 'ImageImport', state: 'Ready', object: object('ImageImport', { conditions: [imported] }), kstatus: 'Current', argo: 'Healthy', message: 'Imported: 2 of 2 tags resolved' },
  {
    kind: 'ImageImport',
    state: 'Stalled: RepositoryNotFound',
    object: object('ImageImport', {
      conditions: [
        notReady('RepositoryNotFound', 'BatchGetImage failed: RepositoryNotFoundException: team/app'),
        stalled('RepositoryNotFound', 'BatchGetImage failed: RepositoryNotFoundException: team/app'),
      ],
    }),
    kstatus: 'Failed',
    argo: 'Degraded',
    message: 'RepositoryNotFound: BatchGetImage failed: RepositoryNotFoundException: team/app',
  },
  {
    kind: 'ImageImport',
    state: 'waiting for its registry (Reconciling)',
    object: object('ImageImport', {
      conditions: [notReady('RegistryNotReady', 'EcrRegistry prod is not Ready'), reconciling('RegistryNotReady', 'EcrRegistry prod is not Ready')],
    }),
    kstatus: 'InProgress',
    argo: 'Progressing',
    message: 'RegistryNotReady: EcrRegistry prod is not Ready',
  },
  {
    kind: 'ImageImport',
    state: 'suspended',
    object: object('ImageImport', { conditions: [imported, suspendedCondition] }),
    kstatus: 'Current',
    argo: 'Suspended',
    message: 'Suspended: spec.importPolicy.suspend stops scheduled imports',
  },
  {
    kind: 'ImageImport',
    state: 'suspended after a failure (suspend wins, as in Argo CD\'s Flux checks)',
    object: object('ImageImport', {
      conditions: [notReady('AccessDenied', 'not authorized'), stalled('AccessDenied', 'not authorized'), suspendedCondition],
    }),
    kstatus: 'Failed',
    argo: 'Suspended',
    message: 'Suspended: spec.importPolicy.suspend stops scheduled imports',
  },
  {
    kind: 'ImageImport',
    state: 'deleted',
    object: object('ImageImport', { deleting: true, conditions: [imported] }),
    kstatus: 'Terminating',
    argo: 'Progressing',
    message: 'Pending deletion',
    script: { status: 'Progressing', message: 'Deleting' },
  },
];

/**
 * ClusterEcrRegistry: the conditions as the controller (src/clusterregistry/cluster-status.ts) words
 * them, and the namespace counts its health.lua reports.
 */
function clusterRegistryRows(): Row[] {
  const kind = 'ClusterEcrRegistry';
  const until = '2025-01-01T12:00:00Z';
  const rejected = 'GetAuthorizationToken failed: UnrecognizedClientException: The security token included in the request is invalid';
  const clusterReady = condition('Ready', 'True', 'PullSecretReady', `Pull secret ecr-pull holds a token valid until ${until} in all 3 selected namespaces`);
  const clusterRefreshed = condition('Refreshed', 'True', 'TokenRefreshed', 'Token issued at 2025-01-01T00:00:00Z; next refresh at 2025-01-01T06:00:00Z');
  const failure = (namespace: string, reason: string, message: string): NamespaceFailure => ({ namespace, reason, message });
  /** The status fields. `failed` is status.failedNamespaces; `failedCount` is namespacesFailed, as the list stops at 20. */
  const counts = (selected: number, { failed = [], failedCount, token = true }: { failed?: NamespaceFailure[]; failedCount?: number; token?: boolean } = {}) => ({
    pullSecretName: 'ecr-pull',
    ...(token ? { expirationTime: until } : {}),
    namespacesSelected: selected,
    namespacesReady: selected - (failedCount ?? failed.length),
    namespacesFailed: failedCount ?? failed.length,
    failedNamespaces: failed,
  });
  const conflictMessage = 'Secret team-c/ecr-pull already exists; it is left untouched';
  const noToken = (namespaces: string[], reason: string) => namespaces.map((namespace) => failure(namespace, reason, 'no valid token is served'));
  const twentyFive = Array.from({ length: 25 }, (_, i) => `team-${String(i + 1).padStart(2, '0')}`);
  return [
    ...lifecycleRows(kind, clusterReady),
    {
      kind,
      state: 'Ready in every selected namespace',
      object: object(kind, { conditions: [clusterReady, clusterRefreshed], fields: counts(3) }),
      kstatus: 'Current',
      argo: 'Healthy',
      message: `Pull secret ecr-pull in 3 of 3 selected namespaces, valid until ${until}`,
    },
    {
      kind,
      state: 'Ready, status without the counts (falls back to the Ready message)',
      object: object(kind, { conditions: [clusterReady, clusterRefreshed] }),
      kstatus: 'Current',
      argo: 'Healthy',
      message: `PullSecretReady: ${clusterReady.message}`,
    },
    {
      kind,
      state: 'Ready while the refresh fails (Refreshed=False)',
      object: object(kind, {
        conditions: [clusterReady, condition('Refreshed', 'False', 'CredentialsRejected', `${rejected}; the pull secrets keep serving a token valid until ${until}`)],
        fields: counts(3),
      }),
      kstatus: 'Current',
      argo: 'Healthy',
      message: `Pull secret ecr-pull in 3 of 3 selected namespaces, valid until ${until}, but refreshing it fails: CredentialsRejected: ${rejected}; the pull secrets keep serving a token valid until ${until}`,
    },
    {
      kind,
      state: 'Stalled: a foreign Secret in 1 of 3 namespaces (the others served)',
      object: object(kind, {
        conditions: [
          notReady('NamespacesNotReady', '1 of 3 selected namespaces hold no valid pull secret: team-c (PullSecretConflict)'),
          clusterRefreshed,
          stalled('PullSecretConflict', `1 namespace holds no valid pull secret; the first: ${conflictMessage}`),
        ],
        fields: counts(3, { failed: [failure('team-c', 'PullSecretConflict', conflictMessage)] }),
      }),
      kstatus: 'Failed',
      argo: 'Degraded',
      message: `PullSecretConflict: 1 namespace holds no valid pull secret; the first: ${conflictMessage}; not served in 1 of 3 selected namespaces: team-c (PullSecretConflict)`,
    },
    {
      kind,
      state: 'Stalled: credentials rejected, no token in 25 namespaces (status lists 20)',
      object: object(kind, {
        conditions: [
          notReady('CredentialsRejected', `${rejected}; no valid token is served`),
          condition('Refreshed', 'False', 'CredentialsRejected', rejected),
          stalled('CredentialsRejected', rejected),
        ],
        fields: counts(25, { failed: noToken(twentyFive.slice(0, 20), 'CredentialsRejected'), failedCount: 25, token: false }),
      }),
      kstatus: 'Failed',
      argo: 'Degraded',
      message: `CredentialsRejected: ${rejected}; not served in 25 of 25 selected namespaces: team-01 (CredentialsRejected), team-02 (CredentialsRejected), team-03 (CredentialsRejected) and 22 more`,
    },
    {
      kind,
      state: 'Stalled with no failed namespace listed',
      object: object(kind, {
        conditions: [notReady('InvalidSpec', 'spec.region us-west-2 does not match the registry host'), stalled('InvalidSpec', 'spec.region us-west-2 does not match the registry host')],
        fields: counts(0, { token: false }),
      }),
      kstatus: 'Failed',
      argo: 'Degraded',
      message: 'InvalidSpec: spec.region us-west-2 does not match the registry host',
    },
    {
      kind,
      state: 'first token pending, throttled (Reconciling)',
      object: object(kind, {
        conditions: [
          notReady('Throttled', 'GetAuthorizationToken failed: ThrottlingException: Rate exceeded; no valid token is served'),
          condition('Refreshed', 'False', 'Throttled', 'GetAuthorizationToken failed: ThrottlingException: Rate exceeded'),
          reconciling('Throttled', 'GetAuthorizationToken failed: ThrottlingException: Rate exceeded; retrying with backoff'),
        ],
        fields: counts(3, { failed: noToken(['team-a', 'team-b', 'team-c'], 'Throttled'), token: false }),
      }),
      kstatus: 'InProgress',
      argo: 'Progressing',
      message:
        'Throttled: GetAuthorizationToken failed: ThrottlingException: Rate exceeded; retrying with backoff; not served in 3 of 3 selected namespaces: team-a (Throttled), team-b (Throttled), team-c (Throttled)',
    },
    {
      kind,
      state: 'one namespace\'s write failing, retried (Reconciling)',
      object: object(kind, {
        conditions: [
          notReady('NamespacesNotReady', '1 of 3 selected namespaces hold no valid pull secret: team-b (KubernetesApiError)'),
          clusterRefreshed,
          reconciling('KubernetesApiError', '1 namespace holds no valid pull secret; the first: writing pull secret ecr-pull: 500 etcdserver: request timed out; retrying with backoff'),
        ],
        fields: counts(3, { failed: [failure('team-b', 'KubernetesApiError', 'writing pull secret ecr-pull: 500 etcdserver: request timed out')] }),
      }),
      kstatus: 'InProgress',
      argo: 'Progressing',
      message:
        'KubernetesApiError: 1 namespace holds no valid pull secret; the first: writing pull secret ecr-pull: 500 etcdserver: request timed out; retrying with backoff; not served in 1 of 3 selected namespaces: team-b (KubernetesApiError)',
    },
    {
      kind,
      state: 'Ready False without Reconciling or Stalled (its message names the namespaces)',
      object: object(kind, {
        conditions: [notReady('NamespacesNotReady', '1 of 3 selected namespaces hold no valid pull secret: team-b (KubernetesApiError)')],
        fields: counts(3, { failed: [failure('team-b', 'KubernetesApiError', 'writing pull secret ecr-pull: 500 etcdserver: request timed out')] }),
      }),
      kstatus: 'InProgress',
      argo: 'Progressing',
      message: 'NamespacesNotReady: 1 of 3 selected namespaces hold no valid pull secret: team-b (KubernetesApiError)',
    },
    {
      // Outside the contract (Reconciling only while not Ready): kstatus and Argo CD's Flux checks differ here.
      kind,
      state: 'Ready and Reconciling (outside the contract)',
      object: object(kind, { conditions: [clusterReady, reconciling('Progressing', 'writing pull secrets')], fields: counts(3) }),
      kstatus: 'InProgress',
      argo: 'Healthy',
      message: `Pull secret ecr-pull in 3 of 3 selected namespaces, valid until ${until}`,
    },
    {
      kind,
      state: 'deleted while ImageImports use it',
      object: object(kind, {
        deleting: true,
        conditions: [clusterReady, condition('Deleting', 'True', 'InUse', 'Deletion waits for ImageImports that use this registry: team-a/app, team-b/tools')],
        fields: { ...counts(3), inUseBy: [{ namespace: 'team-a', name: 'app' }, { namespace: 'team-b', name: 'tools' }] },
      }),
      kstatus: 'Terminating',
      argo: 'Progressing',
      message: 'Pending deletion',
      script: { status: 'Progressing', message: 'InUse: Deletion waits for ImageImports that use this registry: team-a/app, team-b/tools' },
    },
  ];
}

const rows: Row[] = [...ecrRegistryRows(), ...importRows, ...clusterRegistryRows()];

function expectMessage(actual: string, expected: string | RegExp, what: string) {
  if (typeof expected === 'string') expect(actual, what).to.equal(expected);
  else expect(actual, what).to.match(expected);
}

describe('Argo CD health checks and kstatus, over hand-written objects', function () {
  // A cold build of the tool takes about a minute.
  this.timeout(5 * 60_000);
  let reports: StatusReport[];

  before(async () => {
    reports = await statusReports(rows.map((row) => row.object));
  });

  it('ships one health.lua per kind', () => {
    expect(healthScripts().map((script) => script.key).sort()).to.deep.equal(KINDS.map((kind) => `ecr.pullsecrets.io/${kind}`).sort());
  });

  it('ships an argocd-cm patch whose scripts are the .lua files, byte for byte', () => {
    const patch = loadYaml(fs.readFileSync(path.join(ARGOCD_DIR, 'argocd-cm-patch.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string };
      data: Record<string, string>;
    };
    expect(patch).to.deep.include({ kind: 'ConfigMap', metadata: { name: 'argocd-cm', namespace: 'argocd' } });
    const scripts = healthScripts();
    expect(Object.keys(patch.data).sort()).to.deep.equal(scripts.map((script) => script.configMapKey).sort());
    for (const script of scripts) {
      expect(patch.data[script.configMapKey], `${script.configMapKey} in argocd-cm-patch.yaml vs ${script.file}`).to.equal(fs.readFileSync(script.file, 'utf8'));
    }
  });

  it('runs every script without a Lua error, in Argo CD\'s environment (no string library)', () => {
    const errors = reports.flatMap((report, i) => (report.lua?.error ? [`${rows[i]!.kind} ${rows[i]!.state}: ${report.lua.error}`] : []));
    expect(errors).to.deep.equal([]);
  });

  rows.forEach((row, i) => {
    it(`${row.kind} ${row.state}: kstatus ${row.kstatus}, Argo CD ${row.argo}`, () => {
      const report = reports[i]!;
      expect(report.kstatus.status, `kstatus (${report.kstatus.message})`).to.equal(row.kstatus);
      expect(report.argo?.status, `Argo CD (${report.argo?.message})`).to.equal(row.argo);
      expectMessage(report.argo!.message, row.message, 'Argo CD message');
      const script = row.script ?? { status: row.argo, message: row.message };
      expect(report.lua?.status, 'health.lua status').to.equal(script.status);
      expectMessage(report.lua!.message, script.message, 'health.lua message');
    });
  });
});
