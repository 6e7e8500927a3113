import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { dump, loadAll } from 'js-yaml';
import type { EcrRegistry } from '../../src/api/ecr-registry.ts';
import { findCondition } from '../../src/runtime/conditions.ts';
import { sections, tableFirstColumns } from '../docs/markdown.ts';
import { type MetricSample, parsePrometheusText, samplesOf } from '../e2e/support/prometheus.ts';
import { installCrds } from '../support/controlplane/crds.ts';
import { freePort } from '../support/controlplane/ports.ts';
import { type AccessKey, EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { createCredentialsSecret, createRegistry, getRegistry, replaceCredentialsSecret } from '../support/fixtures.ts';
import { helm } from '../support/helm.ts';
import { OperatorProcess } from '../support/operator-process.ts';
import { prometheusOperatorCrdDir, promtool } from '../support/promtool.ts';

/**
 * The chart's PrometheusRule, run by promtool (built from Go modules) against series the operator
 * really serves. Two replicas of the operator run as the container runs them (`node src/main.ts`,
 * leader election on) against the test apiserver and the ECR emulator, and their /metrics are scraped
 * in real situations: a Ready registry with a leader and a standby; registries whose refresh ECR
 * throttles, one with a valid token that has less than 2 hours left, one whose token has expired;
 * the leader killed and the standby taking over.
 *
 * What the test derives, and how (nothing else is made up):
 * - Labels: each scraped sample gets the target labels the chart's ServiceMonitor gives it in
 *   Prometheus (job, namespace, pod, ...), and a clashing label of the operator's own is renamed
 *   exported_<name>, as Prometheus does with honor_labels false (its default, and the monitors').
 * - Time: a scrape is a moment; the alerts need minutes or hours. Each scraped state is held over
 *   promtool's time, except what time itself changes: token_expiry_seconds falls by a second per
 *   second (it is computed from status.expirationTime at scrape time), and while ECR keeps throttling
 *   the throttled-call and reconcile-error counters grow by one every 5 minutes, the cap of the retry
 *   backoff (src/runtime/rate-limiter.ts): the slowest a failing refresh is retried. The handover is
 *   replayed second by second as it was observed.
 */

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../..');
const CHART_DIR = path.join(REPOSITORY_ROOT, 'deploy', 'chart');
const DASHBOARD_PATH = path.join(CHART_DIR, 'dashboards', 'ecr-pullsecrets-operator.json');
const RELEASE = 'ecr-pullsecrets-operator';
/** Where Prometheus sees the operator's pods: the release namespace, unlike the registries' namespace. */
const RELEASE_NAMESPACE = 'ecr-pullsecrets-system';
const METRICS_SERVICE = 'ecr-pullsecrets-operator-metrics';
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const ALERTS = [
  'EcrPullSecretExpiringSoon',
  'EcrPullSecretExpired',
  'EcrRegistryNotReady',
  'EcrApiThrottled',
  'EcrPullSecretsOperatorNoLeader',
  'EcrReconcileErrors',
] as const;
type AlertName = (typeof ALERTS)[number];
const OPERATOR_LOGS = `kubectl -n ${RELEASE_NAMESPACE} logs -l app.kubernetes.io/name=${RELEASE} --prefix --tail=200`;
/** The retry backoff's cap: while ECR throttles, a failing refresh is retried at least this often. */
const BACKOFF_CAP_MINUTES = 5;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}
type Rendered = KubernetesObject & { kind: string; spec?: unknown; data?: Record<string, string> };

/** One scraped series as Prometheus stores it: its labels (with __name__) and the scraped value. */
interface StoredSeries {
  labels: Record<string, string>;
  value: number;
}

interface ExpectedAlert {
  exp_labels: Record<string, string>;
  exp_annotations?: Record<string, string>;
}
interface AlertCheck {
  eval_time: string;
  alertname: AlertName;
  exp_alerts: ExpectedAlert[];
}
interface PromtoolTestGroup {
  name: string;
  interval: string;
  input_series: Array<{ series: string; values: string }>;
  alert_rule_test: AlertCheck[];
}

async function renderChart(args: string[], namespace = RELEASE_NAMESPACE): Promise<Rendered[]> {
  const result = await helm(['template', RELEASE, CHART_DIR, '--namespace', namespace, ...args]);
  expect(result.code, result.stderr).to.equal(0);
  return (loadAll(result.stdout) as Array<Rendered | null>).filter((o): o is Rendered => o != null);
}

/** The chart's PrometheusRule groups, with the values given. */
async function ruleGroups(args: string[] = []): Promise<RuleGroup[]> {
  const rules = (await renderChart(['--set', 'prometheusRule.enabled=true', ...args])).filter((o) => o.kind === 'PrometheusRule');
  expect(rules, 'one PrometheusRule').to.have.length(1);
  return (rules[0]!.spec as { groups: RuleGroup[] }).groups;
}

function alertsOf(groups: RuleGroup[]): Rule[] {
  return groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
}

/** The labels the chart's ServiceMonitor gives a replica's series, as prometheus-operator's relabelling sets them. */
function targetLabels(pod: string, ip: string): Record<string, string> {
  return { job: METRICS_SERVICE, namespace: RELEASE_NAMESPACE, service: METRICS_SERVICE, endpoint: 'metrics', pod, container: 'operator', instance: `${ip}:8080` };
}

/**
 * A scrape as Prometheus stores it (honor_labels false): an empty label is no label; a label the
 * target also sets is kept as exported_<name>; the target's labels are added.
 */
function asStored(samples: readonly MetricSample[], target: Record<string, string>): StoredSeries[] {
  return samples
    .filter((s) => s.name.startsWith('ecr_operator_'))
    .map((s) => {
      const labels: Record<string, string> = { __name__: s.name };
      for (const [name, value] of Object.entries(s.labels)) {
        if (value === '') continue;
        labels[name in target ? `exported_${name}` : name] = value;
      }
      return { labels: { ...labels, ...target }, value: s.value };
    });
}

function seriesText(labels: Record<string, string>): string {
  const { __name__: name, ...rest } = labels;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  return `${name}{${pairs.join(',')}}`;
}

/** promtool input: one explicit value per step (`stale` ends a series as a failed scrape does). */
function input(series: StoredSeries, values: ReadonlyArray<number | 'stale'>): { series: string; values: string } {
  return { series: seriesText(series.labels), values: values.map((v) => (v === 'stale' ? 'stale' : formatNumber(v))).join(' ') };
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite sample value: ${value}`);
  return String(value);
}

const steps = (count: number) => Array.from({ length: count }, (_, k) => k);

/**
 * A scraped state held for `minutes` one-minute steps. token_expiry_seconds falls 60 s a minute;
 * counters named in `growing` (a predicate on the series) grow by one every BACKOFF_CAP_MINUTES while
 * `k < growUntil`.
 */
function heldInput(
  series: readonly StoredSeries[],
  minutes: number,
  growing: (s: StoredSeries) => boolean = () => false,
  growUntil = Number.POSITIVE_INFINITY,
): Array<{ series: string; values: string }> {
  return series.map((s) => {
    const name = s.labels.__name__;
    if (name === 'ecr_operator_token_expiry_seconds') return input(s, steps(minutes + 1).map((k) => s.value - 60 * k));
    if (growing(s)) return input(s, steps(minutes + 1).map((k) => s.value + Math.floor(Math.min(k, growUntil) / BACKOFF_CAP_MINUTES)));
    return input(s, steps(minutes + 1).map(() => s.value));
  });
}

const throttledCalls = (s: StoredSeries) => s.labels.__name__ === 'ecr_operator_ecr_api_calls_total' && s.labels.outcome === 'throttled';
const registryErrors = (s: StoredSeries) =>
  (s.labels.__name__ === 'ecr_operator_reconcile_errors_total' && s.labels.controller === 'ecrregistry') ||
  (s.labels.__name__ === 'ecr_operator_reconcile_total' && s.labels.controller === 'ecrregistry' && s.labels.outcome === 'error');

/** "no alert of this name fires" checks, for each name at each time. */
function quiet(times: readonly string[], names: readonly AlertName[] = ALERTS): AlertCheck[] {
  return times.flatMap((eval_time) => names.map((alertname) => ({ eval_time, alertname, exp_alerts: [] })));
}

function stripAnnotations(groups: RuleGroup[]): RuleGroup[] {
  return groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _annotations, ...rule }) => rule) }));
}

async function scrapeOf(replica: OperatorProcess): Promise<MetricSample[]> {
  const text = await replica.metricsText();
  if (text === undefined) throw new Error(`${replica.metricsUrl} did not answer`);
  return parsePrometheusText(text);
}

function sampleSum(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesOf(samples, name, labels);
  return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
}

describe("the chart's PrometheusRule, with promtool, against the operator's real /metrics", function () {
  this.timeout(15 * 60_000);
  let workDir: string;
  let groups: RuleGroup[];

  before(async () => {
    // The first call may build promtool (minutes cold; `npm run controlplane` builds it beforehand).
    const version = await promtool(['--version']);
    expect(version.code, version.stderr).to.equal(0);
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'prometheus-rules-'));
    groups = await ruleGroups();
    await fs.writeFile(path.join(workDir, 'rules.yaml'), dump({ groups }));
    await fs.writeFile(path.join(workDir, 'conditions.yaml'), dump({ groups: stripAnnotations(groups) }));
  });

  after(async () => {
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  /** Runs `promtool test rules` on one test group; the rules are the chart's (annotations left out unless asked for). */
  async function promtoolTest(group: PromtoolTestGroup, rules: 'rules.yaml' | 'conditions.yaml' = 'conditions.yaml'): Promise<void> {
    expect(group.alert_rule_test.some((check) => check.exp_alerts.length > 0) || group.name.startsWith('quiet'), `${group.name}: expects some alert`).to.equal(true);
    const file = path.join(workDir, `${group.name.replace(/[^a-z0-9]+/gi, '-')}.test.yaml`);
    await fs.writeFile(file, dump({ rule_files: [rules], evaluation_interval: '15s', tests: [group] }, { lineWidth: -1 }));
    const result = await promtool(['test', 'rules', file], { cwd: workDir });
    expect(result.code, `promtool test rules ${file}:\n${result.stdout}${result.stderr}`).to.equal(0);
    expect(result.stdout).to.match(/SUCCESS/);
  }

  it('renders the six alerts, which promtool check rules accepts', async () => {
    expect(alertsOf(groups).map((r) => r.alert)).to.deep.equal([...ALERTS]);
    const result = await promtool(['check', 'rules', path.join(workDir, 'rules.yaml')]);
    expect(result.code, `${result.stdout}${result.stderr}`).to.equal(0);
    expect(result.stdout).to.match(/SUCCESS: 6 rules found/);
    for (const rule of alertsOf(groups)) {
      expect(rule.annotations?.summary, `${rule.alert} summary`).to.be.a('string').and.not.empty;
      expect(rule.annotations?.description, `${rule.alert} names the kubectl command`).to.match(/kubectl /);
      expect(rule.labels?.severity, `${rule.alert} severity`).to.be.oneOf(['warning', 'critical']);
    }
  });

  it('passes helm lint --strict with every monitoring object on', async () => {
    const result = await helm([
      'lint', '--strict', CHART_DIR,
      '--set', 'serviceMonitor.enabled=true,prometheusRule.enabled=true,networkPolicy.enabled=true,grafanaDashboard.enabled=true',
    ]);
    expect(result.code, `${result.stdout}${result.stderr}`).to.equal(0);
    expect(result.stdout).not.to.match(/\[(WARNING|ERROR)\]/);
  });

  it("lists exactly the chart's alerts in the README's alerts table", async () => {
    const readme = await fs.readFile(path.join(REPOSITORY_ROOT, 'README.md'), 'utf8');
    const monitoring = sections(readme).find((s) => s.heading === 'Monitoring');
    expect(monitoring, 'the Monitoring section').to.not.equal(undefined);
    const alertsTable = tableFirstColumns(monitoring!.body).find((column) => column.some((cell) => cell.startsWith('Ecr')));
    expect(alertsTable, 'an alerts table').to.deep.equal([...ALERTS]);
  });

  it('turns values into the rules: thresholds, windows, durations, alert labels, and alerts turned off', async () => {
    const tuned = await ruleGroups([
      '--set', 'prometheusRule.alerts.pullSecretExpiringSoon.thresholdSeconds=14400',
      '--set', 'prometheusRule.alerts.pullSecretExpiringSoon.for=30m',
      '--set', 'prometheusRule.alerts.ecrThrottled.window=20m',
      '--set', 'prometheusRule.alerts.reconcileErrors.threshold=5',
      '--set', 'prometheusRule.alerts.noLeader.enabled=false',
      '--set', 'prometheusRule.alertLabels.team=platform',
      '--set', 'prometheusRule.selector=job="ecr-operator"',
    ]);
    const byName = new Map(alertsOf(tuned).map((r) => [r.alert, r]));
    expect([...byName.keys()]).to.not.include('EcrPullSecretsOperatorNoLeader');
    expect(byName.get('EcrPullSecretExpiringSoon')?.expr).to.equal('min by (namespace, exported_namespace, name) (ecr_operator_token_expiry_seconds{job="ecr-operator"}) < 14400 > 0');
    expect(byName.get('EcrPullSecretExpiringSoon')?.for).to.equal('30m');
    expect(byName.get('EcrApiThrottled')?.expr).to.include('[20m]');
    expect(byName.get('EcrReconcileErrors')?.expr).to.match(/\) > 5$/);
    for (const rule of byName.values()) expect(rule.labels?.team, rule.alert).to.equal('platform');
    const honoured = await ruleGroups(['--set', 'prometheusRule.registryNamespaceLabel=namespace']);
    expect(alertsOf(honoured)[0]?.expr).to.match(/^min by \(namespace, name\)/);
    expect(alertsOf(honoured)[0]?.annotations?.description).to.include('kubectl -n {{ $labels.namespace }} describe ecrregistry');
  });

  it('refuses a misspelt alert setting and turning on both monitors', async () => {
    const typo = await helm(['template', RELEASE, CHART_DIR, '--set', 'prometheusRule.alerts.noLeader.fro=1m']);
    expect(typo.code).to.not.equal(0);
    expect(typo.stderr).to.include('fro');
    const both = await helm(['template', RELEASE, CHART_DIR, '--set', 'serviceMonitor.enabled=true', '--set', 'podMonitor.enabled=true']);
    expect(both.code).to.not.equal(0);
    expect(both.stderr).to.include('enable serviceMonitor or podMonitor, not both');
  });

  describe('on series scraped from two replicas in real situations', () => {
    let emulator: EcrEmulator;
    let namespace: string;
    const replicas: OperatorProcess[] = [];
    // Scrapes, each as Prometheus would store it.
    let healthy: StoredSeries[];
    let failing: StoredSeries[];
    let failingRaw: MetricSample[];
    let standbyRaw: MetricSample[];
    let handover: { leader: StoredSeries; standby: StoredSeries; standbyAfterKill: number[] };
    const served = new Set<string>();

    async function startReplica(pod: string): Promise<OperatorProcess> {
      const replica = await OperatorProcess.start({
        kubeconfigPath: testEnv().kubeconfigPath,
        allowedEndpoints: [emulator.url],
        env: { POD_NAME: pod },
        flags: [
          '--leader-elect=true',
          `--leader-election-namespace=${namespace}`,
          // Short Lease timings, in the defaults' proportions, so the handover takes seconds.
          '--lease-duration=6s',
          '--renew-deadline=4s',
          '--retry-period=1s',
          // Only this test's namespace: registries other tests left behind must not add to the counters.
          `--namespaces=${namespace}`,
        ],
        metricsPort: await freePort(),
        healthPort: await freePort(),
        logPath: path.join(workDir, `${pod}.log`),
      });
      replicas.push(replica);
      await replica.waitUntilReady(60_000);
      return replica;
    }

    function newKey(): AccessKey {
      return emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    }
    const keyData = (key: AccessKey) => ({ AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });

    async function registry(name: string, key: AccessKey): Promise<void> {
      await createCredentialsSecret(namespace, `keys-${name}`, keyData(key));
      await createRegistry(namespace, name, { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: `keys-${name}` } } });
    }

    async function until(name: string, check: (registry: EcrRegistry) => void, timeoutMs = 30_000): Promise<EcrRegistry> {
      return eventually(
        async () => {
          const found = await getRegistry(namespace, name);
          check(found);
          return found;
        },
        { timeoutMs, intervalMs: 100, message: `EcrRegistry ${name}` },
      );
    }
    const condition = (r: EcrRegistry, type: string) => findCondition(r.status?.conditions, type);

    before(async function () {
      this.timeout(5 * 60_000);
      emulator = await EcrEmulator.start();
      namespace = await createTestNamespace('prometheus-rules');

      // A leader, then a standby.
      const a = await startReplica('ecr-pullsecrets-operator-a');
      const b = await startReplica('ecr-pullsecrets-operator-b');
      const targetA = targetLabels('ecr-pullsecrets-operator-a', '10.0.0.11');
      const targetB = targetLabels('ecr-pullsecrets-operator-b', '10.0.0.12');
      await eventually(async () => expect(sampleSum(await scrapeOf(a), 'ecr_operator_leader')).to.equal(1), { timeoutMs: 20_000, message: 'replica a leads' });
      expect(sampleSum(await scrapeOf(b), 'ecr_operator_leader'), 'replica b stands by').to.equal(0);

      // 1. Healthy: one Ready registry with ECR's 12-hour token.
      emulator.tokenLifetimeSeconds = 12 * 60 * 60;
      await registry('ready', newKey());
      await until('ready', (r) => expect(condition(r, 'Ready')).to.include({ status: 'True' }));
      // A registry's first reconcile may be followed by one more that writes nothing: the metadata-only watch
      // of its credentials Secret's namespace starts with the registry, and its first list reports that
      // Secret, which enqueues the registry (an informer's initial ADDED events do so in controller-runtime
      // too). On a loaded machine that list once came after Ready showed (a clean-clone CI run, Kubernetes
      // 1.37.2), so the counters are held constant from once it has passed.
      const healthyA = await eventually(
        async () => {
          const before = await scrapeOf(a);
          await sleep(500);
          const after = await scrapeOf(a);
          expect(sampleSum(after, 'ecr_operator_reconcile_total'), 'reconciles after Ready').to.equal(sampleSum(before, 'ecr_operator_reconcile_total'));
          return after;
        },
        { timeoutMs: 10_000, message: 'the operator settles after Ready' },
      );
      const healthyB = await scrapeOf(b);
      await sleep(2_000);
      const healthyAgain = await scrapeOf(a);
      // Held constant below: nothing happens in a healthy operator until the next refresh, hours away.
      for (const name of ['ecr_operator_reconcile_errors_total', 'ecr_operator_ecr_api_calls_total', 'ecr_operator_reconcile_total']) {
        expect(sampleSum(healthyAgain, name), `${name} while idle`).to.equal(sampleSum(healthyA, name));
      }
      expect(sampleSum(healthyA, 'ecr_operator_token_expiry_seconds', { name: 'ready' })).to.be.above(11 * 3600);
      healthy = [...asStored(healthyA, targetA), ...asStored(healthyB, targetB)];

      // 2. Failing: ECR throttles the refreshes of two more registries.
      // "expiring" holds a valid token with 90 minutes left: its keys are rotated to a key ECR throttles.
      emulator.tokenLifetimeSeconds = 90 * 60;
      await registry('expiring', newKey());
      await until('expiring', (r) => expect(condition(r, 'Ready')).to.include({ status: 'True' }));
      // "expired" gets a 4-second token, then every refresh is throttled.
      emulator.tokenLifetimeSeconds = 4;
      const expiredKey = newKey();
      await registry('expired', expiredKey);
      await until('expired', (r) => expect(r.status?.expirationTime).to.be.a('string'));
      emulator.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken', accessKeyId: expiredKey.accessKeyId });
      const rotated = newKey();
      emulator.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken', accessKeyId: rotated.accessKeyId });
      await replaceCredentialsSecret(namespace, 'keys-expiring', keyData(rotated));
      await until('expiring', (r) => {
        expect(condition(r, 'Refreshed')).to.include({ status: 'False', reason: 'Throttled' });
        expect(condition(r, 'Ready')).to.include({ status: 'True' });
      });
      await until('expired', (r) => expect(condition(r, 'Ready')).to.include({ status: 'False', reason: 'Throttled' }));
      failingRaw = await scrapeOf(a);
      standbyRaw = await scrapeOf(b);
      // What the alerts are about really happened, and shows in the scrape.
      expect(sampleSum(failingRaw, 'ecr_operator_ecr_api_calls_total', { action: 'GetAuthorizationToken', outcome: 'throttled' })).to.be.above(0);
      expect(sampleSum(failingRaw, 'ecr_operator_reconcile_errors_total', { controller: 'ecrregistry' })).to.be.above(sampleSum(healthyA, 'ecr_operator_reconcile_errors_total') ?? 0);
      expect(sampleSum(failingRaw, 'ecr_operator_token_expiry_seconds', { name: 'expiring' })).to.be.within(1, 7200);
      expect(sampleSum(failingRaw, 'ecr_operator_token_expiry_seconds', { name: 'expired' })).to.be.below(0);
      expect(sampleSum(failingRaw, 'ecr_operator_registry_ready_status', { name: 'expired', condition: 'False' })).to.equal(1);
      expect(sampleSum(failingRaw, 'ecr_operator_registry_ready_status', { name: 'expiring', condition: 'True' })).to.equal(1);
      failing = [...asStored(failingRaw, targetA), ...asStored(standbyRaw, targetB)];
      for (const sample of [...failingRaw, ...standbyRaw]) served.add(sample.name);

      // 3. The leader is killed (no Lease release); the standby takes over once the Lease runs out.
      process.kill(a.pid, 'SIGKILL');
      const standbyAfterKill: number[] = [];
      for (let second = 0; second < 30; second++) {
        standbyAfterKill.push(sampleSum(await scrapeOf(b), 'ecr_operator_leader') ?? Number.NaN);
        if (standbyAfterKill.filter((v) => v === 1).length >= 3) break;
        await sleep(1_000);
      }
      expect(standbyAfterKill[0], 'the standby right after the kill').to.equal(0);
      expect(standbyAfterKill.at(-1), 'the standby took over').to.equal(1);
      const leaderSeries = asStored(failingRaw, targetA).find((s) => s.labels.__name__ === 'ecr_operator_leader')!;
      const standbySeries = asStored(standbyRaw, targetB).find((s) => s.labels.__name__ === 'ecr_operator_leader')!;
      handover = { leader: leaderSeries, standby: standbySeries, standbyAfterKill };
      process.stderr.write(`      the standby led ${standbyAfterKill.indexOf(1)} s after the leader was killed (lease duration 6 s)\n`);
    });

    after(async () => {
      // The registries go while the new leader runs, so no later test's operator inherits their retries.
      if (namespace && replicas.some((r) => r.running)) {
        await testEnv().kubectl(['delete', 'ecrregistries', '--all', '-n', namespace, '--wait=true', '--timeout=30s']);
      }
      for (const replica of replicas) await replica.stop(10_000);
      await emulator?.stop();
      if (namespace) await deleteTestNamespace(namespace);
    });

    it('fires nothing for a Ready registry, a leader and a standby, over four hours', async () => {
      await promtoolTest({
        name: 'quiet: healthy',
        interval: '1m',
        input_series: heldInput(healthy, 240),
        alert_rule_test: quiet(['5m', '20m', '1h', '4h']),
      });
    });

    it('fires EcrPullSecretExpired at once, EcrPullSecretExpiringSoon after 10 min and EcrRegistryNotReady after 15 min for registries ECR throttles', async () => {
      const registryAlert = (name: string, severity: string) => ({ exp_labels: { severity, namespace: RELEASE_NAMESPACE, exported_namespace: namespace, name } });
      await promtoolTest({
        name: 'registries whose refresh is throttled',
        interval: '1m',
        input_series: heldInput(failing, 120, (s) => throttledCalls(s) || registryErrors(s)),
        alert_rule_test: [
          // Pending, not firing, for the first minutes.
          ...quiet(['30s'], ALERTS),
          { eval_time: '5m', alertname: 'EcrPullSecretExpired', exp_alerts: [registryAlert('expired', 'critical')] },
          ...quiet(['5m'], ['EcrPullSecretExpiringSoon', 'EcrRegistryNotReady']),
          { eval_time: '12m', alertname: 'EcrPullSecretExpiringSoon', exp_alerts: [registryAlert('expiring', 'warning')] },
          ...quiet(['12m'], ['EcrRegistryNotReady']),
          // Ready stays True while the token is valid: only the expired registry is not Ready.
          { eval_time: '16m', alertname: 'EcrRegistryNotReady', exp_alerts: [registryAlert('expired', 'warning')] },
          { eval_time: '60m', alertname: 'EcrRegistryNotReady', exp_alerts: [registryAlert('expired', 'warning')] },
          // "expiring" runs out at about 90 minutes: from "expires soon" to "expired".
          ...quiet(['100m'], ['EcrPullSecretExpiringSoon']),
          { eval_time: '100m', alertname: 'EcrPullSecretExpired', exp_alerts: [registryAlert('expired', 'critical'), registryAlert('expiring', 'critical')] },
          // A leader and a standby the whole time.
          ...quiet(['5m', '1h', '2h'], ['EcrPullSecretsOperatorNoLeader']),
        ],
      });
    });

    it('fires EcrApiThrottled and EcrReconcileErrors while ECR keeps throttling, and clears them once it stops', async () => {
      // Only the counters and the leader: the registries' state after ECR relents is not what this tests.
      const counters = failing.filter((s) => /_total$/.test(s.labels.__name__!) || s.labels.__name__ === 'ecr_operator_leader');
      const stopsAt = 40;
      await promtoolTest({
        name: 'throttling sustained then stopped',
        interval: '1m',
        input_series: heldInput(counters, 90, (s) => throttledCalls(s) || registryErrors(s), stopsAt),
        alert_rule_test: [
          // One throttled call every 5 minutes is pending from the first, firing 15 minutes later.
          ...quiet(['15m'], ['EcrApiThrottled', 'EcrReconcileErrors']),
          {
            eval_time: '25m',
            alertname: 'EcrApiThrottled',
            exp_alerts: [{ exp_labels: { severity: 'warning', namespace: RELEASE_NAMESPACE, action: 'GetAuthorizationToken' } }],
          },
          {
            eval_time: '25m',
            alertname: 'EcrReconcileErrors',
            exp_alerts: [{ exp_labels: { severity: 'warning', namespace: RELEASE_NAMESPACE, controller: 'ecrregistry' } }],
          },
          // Still firing at the slowest retry rate, just before ECR relents...
          { eval_time: '39m', alertname: 'EcrApiThrottled', exp_alerts: [{ exp_labels: { severity: 'warning', namespace: RELEASE_NAMESPACE, action: 'GetAuthorizationToken' } }] },
          // ...and clear once the window holds no more throttled calls or errors.
          ...quiet([`${stopsAt + 11}m`], ['EcrApiThrottled']),
          ...quiet([`${stopsAt + 16}m`], ['EcrReconcileErrors']),
          ...quiet(['10m', '80m'], ['EcrPullSecretsOperatorNoLeader']),
        ],
      });
    });

    it('stays quiet through the real handover after the leader was killed, and fires EcrPullSecretsOperatorNoLeader if no standby takes over', async () => {
      const before = 10;
      const span = 180;
      // Replayed second by second: the leader's series ends (a failed scrape marks it stale); the standby's values as observed.
      const leader = [...Array<number>(before).fill(handover.leader.value), ...Array<'stale'>(1).fill('stale')];
      const observed = [...Array<number>(before).fill(handover.standby.value), ...handover.standbyAfterKill];
      const tookOver = [...observed, ...Array<number>(span - observed.length).fill(observed.at(-1)!)];
      await promtoolTest({
        name: 'quiet: handover as observed',
        interval: '1s',
        input_series: [input(handover.leader, leader), input(handover.standby, tookOver)],
        alert_rule_test: quiet(['30s', '60s', '90s', '150s'], ['EcrPullSecretsOperatorNoLeader']),
      });
      const neverLeads = [...Array<number>(before).fill(handover.standby.value), ...Array<number>(span - before).fill(handover.standbyAfterKill[0]!)];
      await promtoolTest({
        name: 'no standby takes over',
        interval: '1s',
        input_series: [input(handover.leader, leader), input(handover.standby, neverLeads)],
        alert_rule_test: [
          ...quiet(['60s'], ['EcrPullSecretsOperatorNoLeader']),
          {
            eval_time: '90s',
            alertname: 'EcrPullSecretsOperatorNoLeader',
            exp_alerts: [{ exp_labels: { severity: 'critical', namespace: RELEASE_NAMESPACE } }],
          },
        ],
      });
    });

    it('fires EcrPullSecretsOperatorNoLeader when Prometheus scrapes no replica at all', async () => {
      // A failed scrape leaves only up == 0 for the target.
      const up = { labels: { __name__: 'up', ...targetLabels('ecr-pullsecrets-operator-a', '10.0.0.11') }, value: 0 };
      await promtoolTest({
        name: 'no replica scraped',
        interval: '1m',
        input_series: heldInput([up], 10),
        alert_rule_test: [
          { eval_time: '3m', alertname: 'EcrPullSecretsOperatorNoLeader', exp_alerts: [{ exp_labels: { severity: 'critical', namespace: RELEASE_NAMESPACE } }] },
        ],
      });
    });

    it('names the kubectl command in the annotations, for an EcrRegistry and a ClusterEcrRegistry', async () => {
      // A ClusterEcrRegistry's series are an EcrRegistry's with namespace="" (test/unit/observability/metrics.test.ts):
      // the expired registry's real series, exported as a ClusterEcrRegistry named cluster-expired would be.
      const expiry = samplesOf(failingRaw, 'ecr_operator_token_expiry_seconds', { name: 'expired' });
      const clusterExpiry = expiry.map((s) => ({ ...s, labels: { ...s.labels, namespace: '', name: 'cluster-expired' } }));
      const target = targetLabels('ecr-pullsecrets-operator-a', '10.0.0.11');
      const ready = samplesOf(failingRaw, 'ecr_operator_registry_ready_status', { name: 'expired' });
      const leader = samplesOf(failingRaw, 'ecr_operator_leader');
      const describeEcr = `kubectl -n ${namespace} describe ecrregistry expired`;
      await promtoolTest(
        {
          name: 'annotations',
          interval: '1m',
          input_series: heldInput(asStored([...expiry, ...clusterExpiry, ...ready, ...leader], target), 30),
          alert_rule_test: [
            {
              eval_time: '5m',
              alertname: 'EcrPullSecretExpired',
              exp_alerts: [
                {
                  exp_labels: { severity: 'critical', namespace: RELEASE_NAMESPACE, exported_namespace: namespace, name: 'expired' },
                  exp_annotations: {
                    summary: `The ECR pull secret of EcrRegistry ${namespace}/expired has expired: new pods using it cannot pull.`,
                    description: `The operator keeps retrying. The Ready and Refreshed conditions and Warning Events say why: ${describeEcr}. Operator logs: ${OPERATOR_LOGS}.`,
                  },
                },
                {
                  exp_labels: { severity: 'critical', namespace: RELEASE_NAMESPACE, name: 'cluster-expired' },
                  exp_annotations: {
                    summary: 'The ECR pull secret of ClusterEcrRegistry cluster-expired has expired: new pods using it cannot pull.',
                    description: `The operator keeps retrying. The Ready and Refreshed conditions and Warning Events say why: kubectl describe clusterecrregistry cluster-expired. Operator logs: ${OPERATOR_LOGS}.`,
                  },
                },
              ],
            },
            {
              eval_time: '20m',
              alertname: 'EcrRegistryNotReady',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning', namespace: RELEASE_NAMESPACE, exported_namespace: namespace, name: 'expired' },
                  exp_annotations: {
                    summary: `EcrRegistry ${namespace}/expired has not been Ready for 15m.`,
                    description: `Its Ready condition is False or Unknown. The conditions' reasons and messages, and Warning Events, say why: ${describeEcr}. Operator logs: ${OPERATOR_LOGS}.`,
                  },
                },
              ],
            },
          ],
        },
        'rules.yaml',
      );
    });

    it("uses in the Grafana dashboard only metrics the operator serves, in PromQL that promtool parses", async () => {
      const dashboard = JSON.parse(await fs.readFile(DASHBOARD_PATH, 'utf8')) as {
        panels: Array<{ targets?: Array<{ expr: string }>; panels?: Array<{ targets?: Array<{ expr: string }> }> }>;
        templating: { list: Array<{ definition?: string }> };
      };
      const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
      const expressions = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
      expect(expressions.length, 'dashboard queries').to.be.greaterThan(10);
      const variableQueries = dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : []));
      for (const expression of [...expressions, ...variableQueries]) {
        const names = expression.match(/\b(?:ecr_operator|process|nodejs)_[a-z0-9_]+\b/g) ?? [];
        expect(names, `metrics in "${expression}"`).to.not.be.empty;
        for (const name of names) expect([...served], `"${expression}" uses ${name}`).to.include(name);
      }
      // Grafana's variables, as Grafana substitutes them, then as recording rules for promtool to parse.
      const recording = expressions.map((expr, index) => ({
        record: `dashboard:query_${index}`,
        expr: expr.replaceAll('$namespace', RELEASE_NAMESPACE).replaceAll('$__rate_interval', '2m'),
      }));
      const file = path.join(workDir, 'dashboard-queries.yaml');
      await fs.writeFile(file, dump({ groups: [{ name: 'dashboard', rules: recording }] }));
      const result = await promtool(['check', 'rules', file]);
      expect(result.code, `${result.stdout}${result.stderr}`).to.equal(0);
      expect(result.stdout).to.include(`SUCCESS: ${recording.length} rules found`);
    });
  });

  describe("against the Prometheus Operator's real CRDs, in the test apiserver", () => {
    let namespace: string;
    let crdNames: string[];

    before(async () => {
      namespace = await createTestNamespace('monitoring-objects');
      // Installed apart from testEnv().installCrds, which would wait for them after apiserver restarts once deleted.
      const installed = await installCrds(testEnv().kubeConfig(), await prometheusOperatorCrdDir());
      crdNames = installed.map((crd) => crd.metadata?.name ?? '');
      expect(crdNames).to.include.members(['servicemonitors.monitoring.coreos.com', 'podmonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com']);
    });

    after(async () => {
      if (crdNames?.length) await testEnv().kubectl(['delete', 'crd', ...crdNames, '--ignore-not-found', '--wait=false']);
      if (namespace) await deleteTestNamespace(namespace);
    });

    async function apply(objects: Rendered[]): Promise<{ code: number; stdout: string; stderr: string }> {
      return testEnv().kubectl(['apply', '--server-side', '--field-manager=helm', '-n', namespace, '-f', '-'], {
        stdin: objects.map((o) => dump(o)).join('---\n'),
      });
    }

    it('creates the ServiceMonitor, PrometheusRule, NetworkPolicy and dashboard ConfigMap, validated by the apiserver', async () => {
      const objects = await renderChart(
        [
          '--set', 'serviceMonitor.enabled=true',
          '--set', 'serviceMonitor.labels.release=kube-prometheus-stack',
          '--set', 'prometheusRule.enabled=true',
          '--set', 'networkPolicy.enabled=true',
          '--set', 'networkPolicy.apiServer.cidrs={10.0.0.0/16}',
          '--set', 'grafanaDashboard.enabled=true',
          '--set', 'grafanaDashboard.annotations.grafana_folder=Operators',
          ...['servicemonitor', 'prometheusrule', 'networkpolicy', 'grafana-dashboard'].flatMap((t) => ['--show-only', `templates/${t}.yaml`]),
        ],
        namespace,
      );
      expect(objects.map((o) => o.kind).sort()).to.deep.equal(['ConfigMap', 'NetworkPolicy', 'PrometheusRule', 'ServiceMonitor']);
      const applied = await apply(objects);
      expect(applied.code, applied.stderr).to.equal(0);

      const read = async (resource: string) => {
        const got = await testEnv().kubectl(['get', '-n', namespace, resource, '-o', 'json']);
        expect(got.code, got.stderr).to.equal(0);
        return JSON.parse(got.stdout) as Rendered & { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } };
      };
      const monitor = await read(`servicemonitor/${RELEASE}`);
      expect(monitor.metadata.labels).to.include({ release: 'kube-prometheus-stack' });
      expect((monitor.spec as { endpoints: Array<{ port: string }> }).endpoints[0]?.port).to.equal('metrics');
      const rule = await read(`prometheusrule/${RELEASE}`);
      expect((rule.spec as { groups: RuleGroup[] }).groups[0]?.rules.map((r) => r.alert)).to.deep.equal([...ALERTS]);
      const policy = await read(`networkpolicy/${RELEASE}`);
      const egress = (policy.spec as { egress: Array<{ to?: Array<{ ipBlock?: { cidr: string } }> }> }).egress;
      expect(egress[0]?.to?.[0]?.ipBlock?.cidr, 'the apiserver by address').to.equal('10.0.0.0/16');
      const dashboard = await read(`configmap/${RELEASE}-dashboard`);
      expect(dashboard.metadata.labels).to.include({ grafana_dashboard: '1' });
      expect(dashboard.metadata.annotations).to.include({ grafana_folder: 'Operators' });
      const json = JSON.parse(dashboard.data?.['ecr-pullsecrets-operator.json'] ?? '{}') as { uid?: string };
      expect(json.uid, 'the dashboard JSON from .Files.Get').to.equal('ecr-pullsecrets-operator');
    });

    it('creates the PodMonitor instead, and the CRD schema rejects a bad relabelling', async () => {
      const objects = await renderChart(['--set', 'podMonitor.enabled=true', '--show-only', 'templates/podmonitor.yaml'], namespace);
      const applied = await apply(objects);
      expect(applied.code, applied.stderr).to.equal(0);
      const got = await testEnv().kubectl(['get', '-n', namespace, `podmonitor/${RELEASE}`, '-o', 'jsonpath={.spec.selector.matchLabels}']);
      expect(JSON.parse(got.stdout)).to.deep.equal({ 'app.kubernetes.io/name': RELEASE, 'app.kubernetes.io/component': 'controller' });

      // The values schema lets RelabelConfigs through as objects; the real CRD holds them to its schema.
      const bad = await renderChart(
        ['--set', 'serviceMonitor.enabled=true', '--set', 'serviceMonitor.relabelings[0].action=bogus', '--show-only', 'templates/servicemonitor.yaml'],
        namespace,
      );
      const refused = await apply(bad);
      expect(refused.code).to.not.equal(0);
      expect(refused.stderr).to.match(/action/);
    });
  });
});
