import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { KubeConfig } from './kube/client-node.ts';
import { createEndpointAllowlist } from './aws/endpoint-allowlist.ts';
import { type BindAddress, parseBindAddress } from './observability/health-server.ts';
import type { LogFormat } from './observability/logger.ts';
import { parseDuration } from './runtime/duration.ts';
import { JITTER_FACTOR } from './runtime/leader-election.ts';

/**
 * The operator's settings, from flags and environment variables. This module is the only reader
 * of process.env and argv: everything else receives a validated Config.
 */
export interface Config {
  /** Watch these namespaces (at least one, no repeats), or all when undefined. */
  namespaces?: string[];
  workers: number;
  leaderElection: LeaderElectionConfig;
  /** Where /metrics is served; undefined when disabled with `0`. */
  metricsBindAddress?: BindAddress;
  /** Where /healthz and /readyz are served; the same address as metrics means one server for all three. */
  healthProbeBindAddress: BindAddress;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** ECR endpoint overrides accepted beyond AWS's own: origins or /regex/. */
  allowedEndpoints: string[];
  stsEndpoint?: string;
  /** The operator's own AWS identity (ClusterEcrRegistry credentials.source Operator): may it use instance metadata? */
  operatorIdentityImds: boolean;
  /** Region for the operator's own STS calls (IRSA): AWS_REGION, else us-east-1. */
  awsRegion: string;
  /** How long SIGTERM may take: in-flight reconciles, Event flush, Lease release. */
  shutdownTimeoutMs: number;
  /** A kubeconfig file from --kubeconfig; otherwise KUBECONFIG, ~/.kube/config or in-cluster. */
  kubeconfigPath?: string;
  /** This replica's name, for the Lease holder and Events: the pod name in a cluster. */
  instance: string;
}

export interface LeaderElectionConfig {
  enabled: boolean;
  /** Namespace and name of the coordination.k8s.io/v1 Lease. */
  namespace: string;
  name: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A flag or environment value that cannot be used; the message is one line naming the setting. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** What the process was started with; tests pass their own. */
export interface ConfigSources {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a file, or returns undefined when it is missing (the in-cluster namespace file). */
  readFile?: (path: string) => string | undefined;
  hostname?: () => string;
}

export type ConfigResult = { help: string } | { config: Config };

export const SERVICE_ACCOUNT_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
const PROGRAM = 'ecr-pullsecrets-operator';

type FlagKind = 'string' | 'boolean' | 'duration' | 'integer';

interface FlagSpec {
  name: string;
  kind: FlagKind;
  env?: string;
  defaultText: string;
  help: string;
}

const FLAGS: readonly FlagSpec[] = [
  {
    name: 'namespaces',
    kind: 'string',
    env: 'WATCH_NAMESPACES',
    defaultText: 'all namespaces',
    help: 'Comma-separated namespaces to watch; empty watches all of them. ClusterEcrRegistries are served only when all are watched.',
  },
  { name: 'namespace', kind: 'string', env: 'WATCH_NAMESPACE', defaultText: 'all namespaces', help: 'One namespace to watch: --namespaces with a single name.' },
  { name: 'workers', kind: 'integer', defaultText: '4', help: 'Objects reconciled concurrently per controller.' },
  { name: 'leader-elect', kind: 'boolean', defaultText: 'true', help: 'Elect a leader through a Lease so only one replica reconciles.' },
  {
    name: 'leader-election-namespace',
    kind: 'string',
    defaultText: "$POD_NAMESPACE, else the service account's namespace, else default",
    help: 'Namespace of the leader election Lease.',
  },
  { name: 'leader-election-id', kind: 'string', defaultText: 'ecr-pullsecrets-operator', help: 'Name of the leader election Lease.' },
  { name: 'lease-duration', kind: 'duration', defaultText: '15s', help: 'How long standbys wait after the last renewal before taking an unreleased Lease; at least 1s longer than --renew-deadline.' },
  { name: 'renew-deadline', kind: 'duration', defaultText: '10s', help: 'How long the leader keeps trying to renew before it gives up leading; longer than 1.2 × --retry-period.' },
  { name: 'retry-period', kind: 'duration', defaultText: '2s', help: 'Interval between Lease renewals and acquisition attempts.' },
  { name: 'metrics-bind-address', kind: 'string', defaultText: ':8080', help: 'host:port serving /metrics; 0 disables it.' },
  { name: 'health-probe-bind-address', kind: 'string', defaultText: ':8081', help: 'host:port serving /healthz and /readyz.' },
  { name: 'log-level', kind: 'string', defaultText: 'info', help: `One of ${LOG_LEVELS.join(', ')}.` },
  { name: 'log-format', kind: 'string', defaultText: 'json', help: 'json or text.' },
  {
    name: 'allowed-endpoints',
    kind: 'string',
    env: 'ALLOWED_ECR_ENDPOINTS',
    defaultText: "none beyond AWS's own",
    help: 'Comma-separated ECR endpoint overrides registries may use: origins (http://127.0.0.1:4566) or /regex/.',
  },
  { name: 'sts-endpoint', kind: 'string', defaultText: "AWS's regional endpoint", help: 'STS endpoint for AssumeRole and AssumeRoleWithWebIdentity.' },
  {
    name: 'operator-identity-imds',
    kind: 'boolean',
    defaultText: 'false',
    help: "Let ClusterEcrRegistries with credentials.source Operator use EC2 instance metadata (the node's role).",
  },
  { name: 'shutdown-timeout', kind: 'duration', defaultText: '25s', help: 'Time allowed for a graceful shutdown on SIGTERM.' },
  // KUBECONFIG is honoured by client-node's default loading (it may list several files to merge).
  { name: 'kubeconfig', kind: 'string', defaultText: '$KUBECONFIG, else ~/.kube/config, else the in-cluster service account', help: 'Path to a kubeconfig file.' },
];

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Reads the process's flags and environment. */
export function loadConfig(): ConfigResult {
  return parseConfig({ argv: process.argv.slice(2), env: process.env });
}

/** Parses and validates settings: flags win over environment variables, which win over defaults. */
export function parseConfig(sources: ConfigSources): ConfigResult {
  const flags = parseFlags(sources.argv);
  if (flags.has('help')) return { help: usage() };
  const env = sources.env;
  const readFile = sources.readFile ?? readOptionalFile;
  const value = (name: string): string | undefined => {
    const spec = FLAGS.find((f) => f.name === name);
    const fromFlag = flags.get(name);
    if (fromFlag !== undefined) return fromFlag;
    return spec?.env ? env[spec.env] : undefined;
  };

  const namespaces = watchedNamespaces(flags, env);

  const leaseDurationMs = durationFlag('lease-duration', value('lease-duration') ?? '15s');
  const renewDeadlineMs = durationFlag('renew-deadline', value('renew-deadline') ?? '10s');
  const retryPeriodMs = durationFlag('retry-period', value('retry-period') ?? '2s');
  // The Lease stores whole seconds; standbys count expiry from what the Lease says.
  if (leaseDurationMs % 1000 !== 0) throw invalid('lease-duration', value('lease-duration') ?? '', 'must be whole seconds');
  checkLeaderElectionTimings(leaseDurationMs, renewDeadlineMs, retryPeriodMs);

  const leaderElectionNamespace =
    value('leader-election-namespace') ?? nonEmpty(env.POD_NAMESPACE) ?? nonEmpty(readFile(SERVICE_ACCOUNT_NAMESPACE_FILE)?.trim()) ?? 'default';
  if (!isDnsLabel(leaderElectionNamespace)) {
    throw invalid('leader-election-namespace', leaderElectionNamespace, 'must be a Kubernetes namespace name');
  }
  const leaseName = value('leader-election-id') ?? 'ecr-pullsecrets-operator';
  if (!isDnsSubdomain(leaseName)) throw invalid('leader-election-id', leaseName, 'must be a Kubernetes object name');

  const metricsText = value('metrics-bind-address') ?? ':8080';
  const metricsBindAddress = metricsText === '0' ? undefined : bindAddressFlag('metrics-bind-address', metricsText);
  const healthProbeBindAddress = bindAddressFlag('health-probe-bind-address', value('health-probe-bind-address') ?? ':8081');

  const logLevel = value('log-level') ?? 'info';
  if (!isLogLevel(logLevel)) throw invalid('log-level', logLevel, `must be one of ${LOG_LEVELS.join(', ')}`);
  const logFormat = value('log-format') ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') throw invalid('log-format', logFormat, 'must be json or text');

  const allowedEndpoints = (value('allowed-endpoints') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  try {
    createEndpointAllowlist(allowedEndpoints);
  } catch (error) {
    throw new ConfigError(`invalid --allowed-endpoints: ${(error as Error).message}`);
  }

  const stsEndpoint = nonEmpty(value('sts-endpoint'));
  if (stsEndpoint !== undefined && !isHttpUrl(stsEndpoint)) throw invalid('sts-endpoint', stsEndpoint, 'must be an http(s) URL');

  const shutdownTimeoutMs = durationFlag('shutdown-timeout', value('shutdown-timeout') ?? '25s');
  const kubeconfigPath = nonEmpty(flags.get('kubeconfig'));
  const instance = nonEmpty(env.POD_NAME) ?? (sources.hostname ?? hostname)();

  return {
    config: {
      ...(namespaces ? { namespaces } : {}),
      workers: integerFlag('workers', value('workers') ?? '4', 1, 1000),
      leaderElection: {
        enabled: booleanFlag('leader-elect', value('leader-elect') ?? 'true'),
        namespace: leaderElectionNamespace,
        name: leaseName,
        leaseDurationMs,
        renewDeadlineMs,
        retryPeriodMs,
      },
      ...(metricsBindAddress ? { metricsBindAddress } : {}),
      healthProbeBindAddress,
      logLevel,
      logFormat,
      allowedEndpoints,
      ...(stsEndpoint ? { stsEndpoint } : {}),
      operatorIdentityImds: booleanFlag('operator-identity-imds', value('operator-identity-imds') ?? 'false'),
      awsRegion: nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1',
      shutdownTimeoutMs,
      ...(kubeconfigPath ? { kubeconfigPath } : {}),
      instance,
    },
  };
}

/**
 * The cluster connection: --kubeconfig when given, else client-node's default search (KUBECONFIG,
 * ~/.kube/config, then the in-cluster service account).
 */
export function loadKubeConfig(config: Pick<Config, 'kubeconfigPath'>): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (config.kubeconfigPath) kubeConfig.loadFromFile(config.kubeconfigPath);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw new ConfigError(`cannot load kubeconfig: ${(error as Error).message}`);
  }
  if (!kubeConfig.getCurrentCluster()) throw new ConfigError('the kubeconfig has no current cluster');
  return kubeConfig;
}

/** Settings worth a log line at start: no credentials are among them. */
export function describeConfig(config: Config): Record<string, unknown> {
  const address = (bind: BindAddress | undefined) => (bind ? `${bind.host ?? ''}:${bind.port}` : 'disabled');
  return {
    namespaces: config.namespaces ?? '(all)',
    workers: config.workers,
    leaderElect: config.leaderElection.enabled,
    lease: `${config.leaderElection.namespace}/${config.leaderElection.name}`,
    leaseDurationMs: config.leaderElection.leaseDurationMs,
    renewDeadlineMs: config.leaderElection.renewDeadlineMs,
    retryPeriodMs: config.leaderElection.retryPeriodMs,
    metricsBindAddress: address(config.metricsBindAddress),
    healthProbeBindAddress: address(config.healthProbeBindAddress),
    logLevel: config.logLevel,
    logFormat: config.logFormat,
    allowedEndpoints: config.allowedEndpoints,
    stsEndpoint: config.stsEndpoint ?? '(default)',
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    instance: config.instance,
  };
}

export function usage(): string {
  const lines = [`Usage: ${PROGRAM} [flags]`, '', 'Keeps Amazon ECR pull secrets fresh and imports ECR images.', '', 'Flags:'];
  for (const flag of FLAGS) {
    const value = flag.kind === 'boolean' ? '[=true|false]' : flag.kind === 'duration' ? ' <duration>' : flag.kind === 'integer' ? ' <n>' : ' <value>';
    lines.push(`  --${flag.name}${value}`);
    lines.push(`      ${flag.help} Default: ${flag.defaultText}.${flag.env ? ` Env: ${flag.env}.` : ''}`);
  }
  lines.push('  --help', '      Print this text.');
  lines.push('', 'Durations are written like 15s, 500ms, 1m30s. Flags take --name=value or --name value.', '');
  return lines.join('\n');
}

/** `--name value`, `--name=value`; a boolean flag alone means true. */
function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      flags.set('help', 'true');
      continue;
    }
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (see --help)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const spec = FLAGS.find((f) => f.name === name);
    if (!spec) throw new ConfigError(`unknown flag --${name} (see --help)`);
    if (flags.has(name)) throw new ConfigError(`flag --${name} given twice`);
    if (eq !== -1) {
      flags.set(name, arg.slice(eq + 1));
    } else if (spec.kind === 'boolean') {
      const next = argv[i + 1];
      if (next === 'true' || next === 'false') {
        flags.set(name, next);
        i++;
      } else {
        flags.set(name, 'true');
      }
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`flag --${name} needs a value`);
      flags.set(name, next);
      i++;
    }
  }
  return flags;
}

/**
 * The namespaces to watch, or undefined for all: --namespaces (a comma-separated list) or its
 * one-name alias --namespace, else WATCH_NAMESPACES or WATCH_NAMESPACE. A flag wins over the
 * environment, as everywhere; the two spellings at the same level contradict each other.
 */
function watchedNamespaces(flags: ReadonlyMap<string, string>, env: ConfigSources['env']): string[] | undefined {
  const pick = (list: string | undefined, one: string | undefined, both: string) => {
    if (list !== undefined && one !== undefined) throw new ConfigError(both);
    if (list !== undefined) return { flag: 'namespaces', text: list };
    return one === undefined ? undefined : { flag: 'namespace', text: one };
  };
  const chosen =
    pick(flags.get('namespaces'), flags.get('namespace'), 'give --namespaces or --namespace, not both') ??
    pick(nonEmpty(env.WATCH_NAMESPACES), nonEmpty(env.WATCH_NAMESPACE), 'set WATCH_NAMESPACES or WATCH_NAMESPACE, not both');
  if (chosen === undefined) return undefined;
  const names = chosen.text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (chosen.flag === 'namespace' && names.length > 1) throw invalid('namespace', chosen.text, 'must be one namespace; use --namespaces for a list');
  const wrong = names.find((name) => !isDnsLabel(name));
  if (wrong !== undefined) {
    throw invalid(chosen.flag, chosen.text, names.length === 1 ? 'must be a Kubernetes namespace name' : `${JSON.stringify(wrong)} is not a Kubernetes namespace name`);
  }
  return names.length === 0 ? undefined : [...new Set(names)];
}

/** How long a request the leader sent just before giving up may take to reach the apiserver. */
const IN_FLIGHT_ALLOWANCE_MS = 1_000;

/**
 * The leader stops at most renewDeadline after it sent its last successful renewal; a standby takes
 * over no sooner than leaseDuration after that renewal was stored. The gap between the two must
 * cover a write the leader sent just before stopping, so it lands before a standby can start.
 * Retry jitter only delays a standby's next look, never hastens it, so it needs no margin there;
 * on the leader's side client-go asks renewDeadline to exceed 1.2 retry periods.
 */
function checkLeaderElectionTimings(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  if (leaseDurationMs < renewDeadlineMs + IN_FLIGHT_ALLOWANCE_MS) {
    throw new ConfigError(
      '--lease-duration must be at least 1s longer than --renew-deadline, so a standby cannot take over while the leader may still be writing',
    );
  }
  if (renewDeadlineMs <= JITTER_FACTOR * retryPeriodMs) {
    throw new ConfigError("--renew-deadline must be longer than 1.2 × --retry-period (client-go's jitter factor)");
  }
}

function durationFlag(name: string, text: string): number {
  const parsed = parseDuration(text.trim());
  const ms = parsed === undefined ? undefined : Math.round(parsed);
  if (ms === undefined) throw invalid(name, text, 'must be a duration such as 15s, 500ms or 1m30s');
  if (ms <= 0) throw invalid(name, text, 'must be longer than zero');
  return ms;
}

function integerFlag(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw invalid(name, text, `must be a whole number from ${min} to ${max}`);
  }
  return n;
}

function booleanFlag(name: string, text: string): boolean {
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw invalid(name, text, 'must be true or false');
}

function bindAddressFlag(name: string, text: string): BindAddress {
  try {
    return parseBindAddress(text);
  } catch (error) {
    throw invalid(name, text, (error as Error).message);
  }
}

function invalid(name: string, value: string, why: string): ConfigError {
  return new ConfigError(`invalid --${name} ${JSON.stringify(value)}: ${why}`);
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text.trim() === '' ? undefined : text.trim();
}

function isDnsLabel(text: string): boolean {
  return text.length <= 63 && DNS_LABEL.test(text);
}

function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && DNS_SUBDOMAIN.test(text);
}

function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function readOptionalFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
