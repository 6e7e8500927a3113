import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, type KubernetesObject, type V1Secret, type V1ServiceAccount, type V1ValidatingAdmissionPolicy, type V1ValidatingAdmissionPolicyBinding } from '@kubernetes/client-node';
import { expect } from 'chai';
import { load, loadAll } from 'js-yaml';
import { apiErrorMessage, apiStatusCode } from '../support/controlplane/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, readSecret } from '../support/fixtures.ts';
import { installShippedManifests, kubectlOk, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, REPOSITORY_ROOT } from './support/shipped-install.ts';

const POLICY = 'ecr-pullsecrets-operator-guardrails';
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator' };
const STS_AUDIENCE = 'sts.amazonaws.com';
/** How the API server words a refusal by this policy. */
const BY_THE_POLICY = `ValidatingAdmissionPolicy '${POLICY}' with binding '${POLICY}' denied request`;

const dockerConfig = { '.dockerconfigjson': '{"auths":{}}' };

interface Refusal {
  request: string;
  status: number;
  message: string;
}

/**
 * deploy/guardrails.yaml, enforced by the real API server against requests made with the operator's
 * own ServiceAccount token, after `kubectl apply -k deploy/`: what the operator does is allowed, and
 * anything else its RBAC would allow on Secrets and TokenRequests is refused, naming the policy.
 * (operator.test.ts and rbac.test.ts then run the operator's every code path under this policy.)
 */
describe('the guardrail policy of deploy/, under the operator\'s shipped identity', function () {
  this.timeout(60_000);
  let operator: CoreV1Api;
  let namespace: string;
  const refusals: Refusal[] = [];

  before(async () => {
    await installShippedManifests();
    const identity = await testEnv().serviceAccountKubeConfig(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    operator = identity.kubeConfig.makeApiClient(CoreV1Api);
    namespace = await createTestNamespace('guardrails');
    await adminClients().core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
    // The API server enforces a new policy once its informer has it: wait for a first refusal (a dry run writes nothing).
    await eventually(
      async () => {
        const { message } = await refused('probe', () => operator.createNamespacedSecret({ namespace, body: secret('probe', 'Opaque'), dryRun: 'All' }), { record: false });
        expect(message).to.include(BY_THE_POLICY);
      },
      { timeoutMs: 20_000, message: 'the policy is in force' },
    );
  });

  after(async () => {
    if (namespace) await deleteTestNamespace(namespace);
    if (refusals.length > 0) {
      const lines = refusals.map((r) => `${r.request}\n          → ${r.status} ${r.message}`);
      process.stderr.write(`      requests refused to ${OPERATOR_USER}:\n${lines.map((line) => `        ${line}`).join('\n')}\n`);
    }
  });

  function secret(name: string, type: string, options: { labels?: Record<string, string>; data?: Record<string, string>; annotations?: Record<string, string> } = {}): V1Secret {
    return { metadata: { name, namespace, labels: options.labels, annotations: options.annotations }, type, stringData: options.data ?? (type === 'kubernetes.io/dockerconfigjson' ? dockerConfig : { key: 'value' }) };
  }

  /** Makes the request and returns the API server's refusal (kept for the list printed at the end); fails when it is allowed. */
  async function refused(request: string, send: () => Promise<unknown>, options: { record?: boolean } = {}): Promise<Refusal> {
    try {
      await send();
    } catch (error) {
      const status = apiStatusCode(error);
      if (status === undefined) throw error;
      const refusal = { request, status, message: apiErrorMessage(error) ?? '' };
      if (options.record !== false) refusals.push(refusal);
      return refusal;
    }
    throw new Error(`${request}: allowed, but the guardrails should refuse it`);
  }

  /** Asserts a refusal by this policy: 403 Forbidden, naming it, with `why`. */
  async function deniedByPolicy(request: string, send: () => Promise<unknown>, why: RegExp | string): Promise<void> {
    const { status, message } = await refused(request, send);
    expect(message, request).to.include(BY_THE_POLICY);
    if (typeof why === 'string') expect(message, request).to.include(why);
    else expect(message, request).to.match(why);
    expect(status, request).to.equal(403);
  }

  /** A TokenRequest for ServiceAccount `app` of the test's namespace, as the operator makes for credentials.serviceAccountRef. */
  function tokenRequest(spec: { audiences: string[]; expirationSeconds: number }) {
    return () => operator.createNamespacedServiceAccountToken({ namespace, name: 'app', body: { spec } });
  }

  it('refuses to create a Secret that is not a pull secret labelled as the operator\'s', async () => {
    await deniedByPolicy('create an Opaque Secret', () => operator.createNamespacedSecret({ namespace, body: secret('opaque', 'Opaque') }), 'not Opaque');
    await deniedByPolicy(
      'create a kubernetes.io/service-account-token Secret (a token for ServiceAccount app)',
      () => operator.createNamespacedSecret({ namespace, body: secret('app-token', 'kubernetes.io/service-account-token', { annotations: { 'kubernetes.io/service-account.name': 'app' }, data: {} }) }),
      'not kubernetes.io/service-account-token',
    );
    await deniedByPolicy(
      'create an unlabelled kubernetes.io/dockerconfigjson Secret',
      () => operator.createNamespacedSecret({ namespace, body: secret('unlabelled', 'kubernetes.io/dockerconfigjson') }),
      'labelled app.kubernetes.io/managed-by=ecr-pullsecrets-operator',
    );
    await deniedByPolicy(
      'create a kubernetes.io/dockerconfigjson Secret labelled managed-by=someone-else',
      () => operator.createNamespacedSecret({ namespace, body: secret('other-manager', 'kubernetes.io/dockerconfigjson', { labels: { 'app.kubernetes.io/managed-by': 'someone-else' } }) }),
      'labelled app.kubernetes.io/managed-by=ecr-pullsecrets-operator',
    );
    for (const name of ['opaque', 'app-token', 'unlabelled', 'other-manager']) expect(await readSecret(namespace, name), name).to.equal(undefined);
  });

  it('refuses to change or delete a Secret that is not already its own pull secret', async () => {
    // Written by the admin, whom the policy does not match.
    const { core } = adminClients();
    const opaque = await core.createNamespacedSecret({ namespace, body: secret('app-config', 'Opaque') });
    const teamPull = await core.createNamespacedSecret({ namespace, body: secret('team-pull', 'kubernetes.io/dockerconfigjson') });

    await deniedByPolicy(
      'update an Opaque Secret (adding the managed-by label)',
      () => operator.replaceNamespacedSecret({ namespace, name: 'app-config', body: { ...opaque, metadata: { ...opaque.metadata, labels: MANAGED_BY } } }),
      'not Opaque',
    );
    await deniedByPolicy(
      "update another team's kubernetes.io/dockerconfigjson Secret (taking it over with the managed-by label)",
      () => operator.replaceNamespacedSecret({ namespace, name: 'team-pull', body: { ...teamPull, metadata: { ...teamPull.metadata, labels: MANAGED_BY } } }),
      'only its own pull secrets, and this kubernetes.io/dockerconfigjson Secret is not one',
    );
    await deniedByPolicy('delete an Opaque Secret', () => operator.deleteNamespacedSecret({ namespace, name: 'app-config' }), 'DELETE only its own pull secrets, and this Opaque Secret is not one');
    await deniedByPolicy('delete another team\'s kubernetes.io/dockerconfigjson Secret', () => operator.deleteNamespacedSecret({ namespace, name: 'team-pull' }), 'DELETE only its own pull secrets');

    // An Opaque Secret cannot become a pull secret at all: the API server refuses the type change
    // (immutable) in validation, before admission, so that refusal does not name the policy.
    const retyped = await refused('update an Opaque Secret to kubernetes.io/dockerconfigjson, labelled', () =>
      operator.replaceNamespacedSecret({
        namespace,
        name: 'app-config',
        body: { ...opaque, type: 'kubernetes.io/dockerconfigjson', metadata: { ...opaque.metadata, labels: MANAGED_BY }, data: undefined, stringData: dockerConfig },
      }),
    );
    expect(retyped.status).to.equal(422);
    expect(retyped.message).to.match(/type: Invalid value: "kubernetes.io\/dockerconfigjson": field is immutable/);

    const after = { opaque: await readSecret(namespace, 'app-config'), teamPull: await readSecret(namespace, 'team-pull') };
    expect(after.opaque?.metadata?.resourceVersion, 'the Opaque Secret is unchanged').to.equal(opaque.metadata?.resourceVersion);
    expect(after.teamPull?.metadata?.resourceVersion, "the team's pull secret is unchanged").to.equal(teamPull.metadata?.resourceVersion);
  });

  it('refuses ServiceAccount tokens for any audience but STS, or for longer than an hour', async () => {
    const issuer = testEnv().serviceAccountIssuer;
    await deniedByPolicy(`TokenRequest for ServiceAccount app, audience ${issuer} (the API server's own), 3600 s`, tokenRequest({ audiences: [issuer], expirationSeconds: 3600 }), `not [${issuer}]`);
    // An empty list means the API server's own audience, filled in before admission.
    await deniedByPolicy('TokenRequest for ServiceAccount app, no audience (the API server\'s default), 3600 s', tokenRequest({ audiences: [], expirationSeconds: 3600 }), `not [${issuer}]`);
    await deniedByPolicy(
      `TokenRequest for ServiceAccount app, audiences ${STS_AUDIENCE} and ${issuer}, 3600 s`,
      tokenRequest({ audiences: [STS_AUDIENCE, issuer], expirationSeconds: 3600 }),
      `only for exactly one audience of ${STS_AUDIENCE}`,
    );
    await deniedByPolicy(`TokenRequest for ServiceAccount app, audience ${STS_AUDIENCE}, 86400 s`, tokenRequest({ audiences: [STS_AUDIENCE], expirationSeconds: 86_400 }), 'at most 3600 seconds, not 86400');
  });

  it('allows what the operator does: its labelled pull secret written, replaced and deleted, and an STS token for an hour', async () => {
    const created = await operator.createNamespacedSecret({ namespace, body: secret('ecr-pull', 'kubernetes.io/dockerconfigjson', { labels: MANAGED_BY }) });
    const replaced = await operator.replaceNamespacedSecret({ namespace, name: 'ecr-pull', body: { ...created, data: undefined, stringData: { '.dockerconfigjson': '{"auths":{"a":{}}}' } } });
    expect(replaced.metadata?.resourceVersion).to.not.equal(created.metadata?.resourceVersion);
    await operator.deleteNamespacedSecret({ namespace, name: 'ecr-pull' });
    expect(await readSecret(namespace, 'ecr-pull')).to.equal(undefined);

    // A pull secret a ClusterEcrRegistry owns but that lost its label is still the operator's: it may put the label back.
    const owner = { apiVersion: 'ecr.pullsecrets.io/v1alpha1', kind: 'ClusterEcrRegistry', name: 'shared', uid: '00000000-0000-4000-8000-000000000001', controller: true };
    const unlabelled = await adminClients().core.createNamespacedSecret({ namespace, body: { ...secret('shared', 'kubernetes.io/dockerconfigjson'), metadata: { name: 'shared', namespace, ownerReferences: [owner] } } });
    await operator.replaceNamespacedSecret({ namespace, name: 'shared', body: { ...unlabelled, metadata: { ...unlabelled.metadata, labels: MANAGED_BY } } });

    const answer = await tokenRequest({ audiences: [STS_AUDIENCE], expirationSeconds: 3600 })();
    const token = answer.status?.token ?? '';
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { aud: string[]; iat: number; exp: number; sub: string };
    expect(claims.aud).to.deep.equal([STS_AUDIENCE]);
    expect(claims.exp - claims.iat).to.equal(3600);
    expect(claims.sub).to.equal(`system:serviceaccount:${namespace}:app`);
  });

  it('allows another audience once an overlay patches the list, as the policy file shows', async () => {
    // The patch exactly as guardrails.yaml's comment gives it, in an overlay of deploy/.
    const comment = (await fs.readFile(path.join(REPOSITORY_ROOT, 'deploy', 'guardrails.yaml'), 'utf8')).split('\n');
    const start = comment.indexOf('#   patches:');
    const end = comment.indexOf('#', start);
    expect(start, 'the patch in the comment').to.be.greaterThan(0);
    const documented = load(comment.slice(start, end).map((line) => line.slice('#   '.length)).join('\n')) as { patches: unknown[] };
    const overlay = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-guardrails-'));
    const audience = 'sts.example.internal';
    try {
      const kustomization = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: [path.relative(overlay, path.join(REPOSITORY_ROOT, 'deploy'))], ...documented };
      await fs.writeFile(path.join(overlay, 'kustomization.yaml'), JSON.stringify(kustomization, null, 2));
      await deniedByPolicy(`TokenRequest for ServiceAccount app, audience ${audience} (not yet allowed), 3600 s`, tokenRequest({ audiences: [audience], expirationSeconds: 3600 }), `not [${audience}]`);
      await kubectlOk(['apply', '-k', overlay]);
      const answer = await eventually(() => tokenRequest({ audiences: [audience], expirationSeconds: 3600 })(), { timeoutMs: 20_000, message: 'the patched policy allows the new audience' });
      expect(answer.status?.token).to.be.a('string');
    } finally {
      await kubectlOk(['apply', '-k', path.join(REPOSITORY_ROOT, 'deploy')]);
      await fs.rm(overlay, { recursive: true, force: true });
    }
    await eventually(() => refused('(back to the shipped policy)', tokenRequest({ audiences: [audience], expirationSeconds: 3600 }), { record: false }), { timeoutMs: 20_000, message: 'the shipped policy is back' });
  });

  it('matches the operator only: the admin may still write any Secret', async () => {
    await adminClients().core.createNamespacedSecret({ namespace, body: secret('admin-opaque', 'Opaque') });
    await adminClients().core.deleteNamespacedSecret({ namespace, name: 'admin-opaque' });
  });

  it('names the ServiceAccount that deploy/ installs the operator as, and denies (Fail, Deny) what it does not allow', async () => {
    const rendered = loadAll((await kubectlOk(['kustomize', `${REPOSITORY_ROOT}/deploy`])).stdout) as KubernetesObject[];
    const account = rendered.find((o) => o.kind === 'ServiceAccount') as V1ServiceAccount;
    const policy = rendered.find((o) => o.kind === 'ValidatingAdmissionPolicy') as V1ValidatingAdmissionPolicy;
    const binding = rendered.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as V1ValidatingAdmissionPolicyBinding;
    expect(policy.metadata?.name).to.equal(POLICY);
    expect(policy.metadata?.namespace, 'cluster-scoped: no namespace').to.equal(undefined);
    expect(policy.spec?.failurePolicy).to.equal('Fail');
    expect(policy.spec?.matchConditions?.map((c) => c.expression)).to.deep.equal([`request.userInfo.username == 'system:serviceaccount:${account.metadata?.namespace}:${account.metadata?.name}'`]);
    expect(binding.spec).to.deep.equal({ policyName: POLICY, validationActions: ['Deny'] });
    // The file's comment tells how to change the audiences by patching these by position.
    expect(policy.spec?.variables?.slice(0, 2)).to.deep.equal([
      { name: 'allowedAudiences', expression: `['${STS_AUDIENCE}']` },
      { name: 'maxExpirationSeconds', expression: '3600' },
    ]);
    // ...which is the account the operator's pods run as.
    const deployment = rendered.find((o) => o.kind === 'Deployment') as { spec: { template: { spec: { serviceAccountName: string } } } };
    expect(deployment.spec.template.spec.serviceAccountName).to.equal(account.metadata?.name);
  });
});
