import { expect } from 'chai';
import { Registry, register as globalRegistry } from 'prom-client';
import { OperatorMetrics, type RegistryExpiry } from '../../../src/observability/metrics.ts';
import { FakeClock } from '../../support/fake-clock.ts';

function setup() {
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 12, 0, 0));
  const registry = new Registry();
  const metrics = new OperatorMetrics({ registry, clock, processMetrics: false });
  return { clock, registry, metrics };
}

/** The sample lines of one metric family, as Prometheus would scrape them. */
async function samples(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('OperatorMetrics', () => {
  it('counts reconciles by controller and outcome, and errors separately', async () => {
    const { registry, metrics } = setup();
    metrics.controller.reconcileFinished('ecrregistry', 'success', 0.02);
    metrics.controller.reconcileFinished('ecrregistry', 'success', 0.03);
    metrics.controller.reconcileFinished('ecrregistry', 'requeue_after', 0.2);
    metrics.controller.reconcileFinished('ecrregistry', 'error', 1.5);
    metrics.controller.reconcileFinished('imageimport', 'error', 0.5);
    expect(await samples(registry, 'ecr_operator_reconcile_total')).to.have.members([
      'ecr_operator_reconcile_total{controller="ecrregistry",outcome="success"} 2',
      'ecr_operator_reconcile_total{controller="ecrregistry",outcome="requeue_after"} 1',
      'ecr_operator_reconcile_total{controller="ecrregistry",outcome="error"} 1',
      'ecr_operator_reconcile_total{controller="imageimport",outcome="error"} 1',
    ]);
    expect(await samples(registry, 'ecr_operator_reconcile_errors_total')).to.have.members([
      'ecr_operator_reconcile_errors_total{controller="ecrregistry"} 1',
      'ecr_operator_reconcile_errors_total{controller="imageimport"} 1',
    ]);
  });

  it('records reconcile durations in a histogram in seconds', async () => {
    const { registry, metrics } = setup();
    metrics.controller.reconcileFinished('ecrregistry', 'success', 0.02);
    metrics.controller.reconcileFinished('ecrregistry', 'error', 1.5);
    const lines = await samples(registry, 'ecr_operator_reconcile_duration_seconds_count');
    expect(lines).to.deep.equal(['ecr_operator_reconcile_duration_seconds_count{controller="ecrregistry"} 2']);
    expect(await samples(registry, 'ecr_operator_reconcile_duration_seconds_sum')).to.deep.equal([
      'ecr_operator_reconcile_duration_seconds_sum{controller="ecrregistry"} 1.52',
    ]);
    const buckets = await samples(registry, 'ecr_operator_reconcile_duration_seconds_bucket');
    expect(buckets).to.include('ecr_operator_reconcile_duration_seconds_bucket{le="0.025",controller="ecrregistry"} 1');
    expect(buckets).to.include('ecr_operator_reconcile_duration_seconds_bucket{le="2.5",controller="ecrregistry"} 2');
  });

  it('shows the latest work queue depth per controller', async () => {
    const { registry, metrics } = setup();
    metrics.controller.queueDepth('ecrregistry', 5);
    metrics.controller.queueDepth('ecrregistry', 2);
    metrics.controller.queueDepth('imageimport', 0);
    expect(await samples(registry, 'ecr_operator_workqueue_depth')).to.have.members([
      'ecr_operator_workqueue_depth{controller="ecrregistry"} 2',
      'ecr_operator_workqueue_depth{controller="imageimport"} 0',
    ]);
  });

  /** An error shaped as the AWS SDK throws it: the exception's name, and the HTTP status in $metadata. */
  function sdkError(name: string, httpStatusCode: number, message = 'Rate exceeded'): Error {
    return Object.assign(new Error(message), { name, $metadata: { httpStatusCode } });
  }

  it('counts ECR API calls by action and outcome, leaving error names out of the labels', async () => {
    const { registry, metrics } = setup();
    metrics.observeEcrCall('GetAuthorizationToken', 'success');
    metrics.observeEcrCall('GetAuthorizationToken', 'success');
    metrics.observeEcrCall('GetAuthorizationToken', 'error', sdkError('AccessDeniedException', 400, 'not allowed'));
    metrics.observeEcrCall('BatchGetImage', 'success');
    expect(await samples(registry, 'ecr_operator_ecr_api_calls_total')).to.have.members([
      'ecr_operator_ecr_api_calls_total{action="GetAuthorizationToken",outcome="success"} 2',
      'ecr_operator_ecr_api_calls_total{action="GetAuthorizationToken",outcome="error"} 1',
      'ecr_operator_ecr_api_calls_total{action="BatchGetImage",outcome="success"} 1',
    ]);
    expect(await registry.metrics()).to.not.include('AccessDeniedException');
  });

  it('counts throttled ECR calls apart from other errors: ThrottlingException, TooManyRequestsException or a bare HTTP 429', async () => {
    const { registry, metrics } = setup();
    metrics.observeEcrCall('GetAuthorizationToken', 'error', sdkError('ThrottlingException', 400));
    metrics.observeEcrCall('BatchGetImage', 'error', sdkError('TooManyRequestsException', 400));
    // A 429 without an exception name the SDK knows (a proxy in the way, say).
    metrics.observeEcrCall('BatchGetImage', 'error', sdkError('Unknown', 429));
    metrics.observeEcrCall('DescribeImages', 'error', sdkError('ServerException', 500, 'internal'));
    metrics.observeEcrCall('DescribeImages', 'error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(await samples(registry, 'ecr_operator_ecr_api_calls_total')).to.have.members([
      'ecr_operator_ecr_api_calls_total{action="GetAuthorizationToken",outcome="throttled"} 1',
      'ecr_operator_ecr_api_calls_total{action="BatchGetImage",outcome="throttled"} 2',
      'ecr_operator_ecr_api_calls_total{action="DescribeImages",outcome="error"} 2',
    ]);
  });

  it('counts pull secret writes by operation, starting every operation at zero', async () => {
    const { registry, metrics } = setup();
    expect(await samples(registry, 'ecr_operator_pull_secret_writes_total')).to.have.members([
      'ecr_operator_pull_secret_writes_total{operation="create"} 0',
      'ecr_operator_pull_secret_writes_total{operation="update"} 0',
      'ecr_operator_pull_secret_writes_total{operation="delete"} 0',
    ]);
    metrics.pullSecretWritten('create');
    metrics.pullSecretWritten('update');
    metrics.pullSecretWritten('update');
    expect(await samples(registry, 'ecr_operator_pull_secret_writes_total')).to.include.members([
      'ecr_operator_pull_secret_writes_total{operation="create"} 1',
      'ecr_operator_pull_secret_writes_total{operation="update"} 2',
    ]);
  });

  it('shows 1 for the leader and 0 otherwise', async () => {
    const { registry, metrics } = setup();
    expect(await samples(registry, 'ecr_operator_leader')).to.deep.equal(['ecr_operator_leader 0']);
    metrics.setLeader(true);
    expect(await samples(registry, 'ecr_operator_leader')).to.deep.equal(['ecr_operator_leader 1']);
    metrics.setLeader(false);
    expect(await samples(registry, 'ecr_operator_leader')).to.deep.equal(['ecr_operator_leader 0']);
  });

  it("computes each registry's seconds to token expiry at scrape time", async () => {
    const { clock, registry, metrics } = setup();
    const registries: RegistryExpiry[] = [
      { metadata: { namespace: 'team-a', name: 'prod' }, status: { expirationTime: '2025-01-01T12:10:00Z' } },
      { metadata: { namespace: 'team-b', name: 'dev' }, status: { expirationTime: '2025-01-01T11:59:30Z' } },
      { metadata: { namespace: 'team-c', name: 'new' } },
      { metadata: { namespace: 'team-c', name: 'garbled' }, status: { expirationTime: 'soon' } },
    ];
    metrics.trackRegistries(() => registries);
    expect(await samples(registry, 'ecr_operator_token_expiry_seconds')).to.have.members([
      'ecr_operator_token_expiry_seconds{namespace="team-a",name="prod"} 600',
      'ecr_operator_token_expiry_seconds{namespace="team-b",name="dev"} -30',
    ]);
    expect(await samples(registry, 'ecr_operator_token_expiry_timestamp_seconds')).to.have.members([
      `ecr_operator_token_expiry_timestamp_seconds{namespace="team-a",name="prod"} ${Date.UTC(2025, 0, 1, 12, 10) / 1000}`,
      `ecr_operator_token_expiry_timestamp_seconds{namespace="team-b",name="dev"} ${Date.UTC(2025, 0, 1, 11, 59, 30) / 1000}`,
    ]);

    clock.advance(60_000);
    registries.splice(1, 1);
    expect(await samples(registry, 'ecr_operator_token_expiry_seconds'), 'deleted registries drop out').to.deep.equal([
      'ecr_operator_token_expiry_seconds{namespace="team-a",name="prod"} 540',
    ]);
  });

  it('has no expiry or ready series before it tracks any registries', async () => {
    const { registry } = setup();
    expect(await samples(registry, 'ecr_operator_token_expiry_seconds')).to.deep.equal([]);
    expect(await samples(registry, 'ecr_operator_registry_ready_status')).to.deep.equal([]);
  });

  it("shows each registry's Ready condition at scrape time, one series per status as cert-manager does", async () => {
    const { registry, metrics } = setup();
    const condition = (status: string) => ({ type: 'Ready', status });
    const registries: RegistryExpiry[] = [
      { metadata: { namespace: 'team-a', name: 'prod' }, status: { conditions: [{ type: 'Refreshed', status: 'False' }, condition('True')] } },
      { metadata: { namespace: 'team-b', name: 'dev' }, status: { conditions: [condition('False')] } },
      // Not reconciled yet: no Ready condition counts as Unknown.
      { metadata: { namespace: 'team-c', name: 'new' } },
      // A ClusterEcrRegistry is cluster-scoped.
      { metadata: { name: 'shared' }, status: { conditions: [condition('Unknown')] } },
    ];
    metrics.trackRegistries(() => registries);
    const ready = (namespace: string, name: string, status: string) =>
      ['True', 'False', 'Unknown'].map((c) => `ecr_operator_registry_ready_status{namespace="${namespace}",name="${name}",condition="${c}"} ${c === status ? 1 : 0}`);
    expect(await samples(registry, 'ecr_operator_registry_ready_status')).to.have.members([
      ...ready('team-a', 'prod', 'True'),
      ...ready('team-b', 'dev', 'False'),
      ...ready('team-c', 'new', 'Unknown'),
      ...ready('', 'shared', 'Unknown'),
    ]);

    registries.splice(1, 3);
    registries[0] = { metadata: { namespace: 'team-a', name: 'prod' }, status: { conditions: [condition('False')] } };
    expect(await samples(registry, 'ecr_operator_registry_ready_status'), 'changes and deletions show at the next scrape').to.have.members(ready('team-a', 'prod', 'False'));
  });

  it('adds Node.js process metrics to the injected registry only', async () => {
    const registry = new Registry();
    new OperatorMetrics({ registry });
    const text = await registry.metrics();
    expect(text).to.match(/^process_cpu_seconds_total /m);
    expect(text).to.match(/^nodejs_eventloop_lag_seconds /m);
    expect(await globalRegistry.metrics()).to.not.include('ecr_operator_');
  });

  it('can be built twice in one process, each with its own registry', async () => {
    const first = setup();
    const second = setup();
    first.metrics.pullSecretWritten('delete');
    expect(await samples(second.registry, 'ecr_operator_pull_secret_writes_total')).to.include('ecr_operator_pull_secret_writes_total{operation="delete"} 0');
  });

  it('follows the Prometheus naming rules: counters end in _total, units are base units', async () => {
    const { registry } = setup();
    for (const { name, type } of await registry.getMetricsAsJSON()) {
      expect(name).to.match(/^ecr_operator_[a-z_]+$/);
      if (String(type) === 'counter') expect(name).to.match(/_total$/);
      expect(name).to.not.match(/_(milliseconds|ms|minutes)($|_)/);
    }
  });
});
