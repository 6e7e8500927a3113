import { expect } from 'chai';
import { type Config, ConfigError, type ConfigSources, describeConfig, parseConfig, SERVICE_ACCOUNT_NAMESPACE_FILE } from '../../src/config.ts';

function parse(argv: string[] = [], env: Record<string, string> = {}, files: Record<string, string> = {}): Config {
  const sources: ConfigSources = { argv, env, readFile: (path) => files[path], hostname: () => 'host-1' };
  const result = parseConfig(sources);
  if (!('config' in result)) throw new Error('expected a config, got help');
  return result.config;
}

function parseError(argv: string[], env: Record<string, string> = {}): string {
  try {
    parse(argv, env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message, 'one line').to.not.include('\n');
    return message;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('parseConfig', () => {
  it('uses the documented defaults when nothing is set', () => {
    const config = parse();
    expect(config).to.deep.equal({
      workers: 4,
      leaderElection: {
        enabled: true,
        namespace: 'default',
        name: 'ecr-pullsecrets-operator',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      metricsBindAddress: { port: 8080 },
      healthProbeBindAddress: { port: 8081 },
      logLevel: 'info',
      logFormat: 'json',
      allowedEndpoints: [],
      operatorIdentityImds: false,
      awsRegion: 'us-east-1',
      shutdownTimeoutMs: 25_000,
      instance: 'host-1',
    });
    expect(config.namespaces, 'all namespaces').to.equal(undefined);
  });

  it('reads every flag, in --name=value and --name value form', () => {
    const config = parse([
      '--namespace=team-a',
      '--workers',
      '8',
      '--leader-elect=false',
      '--leader-election-namespace',
      'ops',
      '--leader-election-id=my-lock',
      '--lease-duration=30s',
      '--renew-deadline',
      '20s',
      '--retry-period=500ms',
      '--metrics-bind-address=127.0.0.1:9090',
      '--health-probe-bind-address',
      '[::1]:9091',
      '--log-level=debug',
      '--log-format',
      'text',
      '--allowed-endpoints=http://127.0.0.1:4566,/https://ecr\\.example\\.com/',
      '--sts-endpoint=http://127.0.0.1:4566',
      '--operator-identity-imds',
      '--shutdown-timeout=1m',
      '--kubeconfig=/tmp/kubeconfig',
    ]);
    expect(config).to.deep.equal({
      namespaces: ['team-a'],
      workers: 8,
      leaderElection: { enabled: false, namespace: 'ops', name: 'my-lock', leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 500 },
      metricsBindAddress: { host: '127.0.0.1', port: 9090 },
      healthProbeBindAddress: { host: '::1', port: 9091 },
      logLevel: 'debug',
      logFormat: 'text',
      allowedEndpoints: ['http://127.0.0.1:4566', '/https://ecr\\.example\\.com/'],
      stsEndpoint: 'http://127.0.0.1:4566',
      operatorIdentityImds: true,
      awsRegion: 'us-east-1',
      shutdownTimeoutMs: 60_000,
      kubeconfigPath: '/tmp/kubeconfig',
      instance: 'host-1',
    });
  });

  it('takes the region for the operator\'s own STS calls from AWS_REGION, as the SDK does', () => {
    expect(parse([], { AWS_REGION: 'eu-west-1' }).awsRegion).to.equal('eu-west-1');
  });

  it('takes the watched namespace and allowed endpoints from the environment', () => {
    const config = parse([], { WATCH_NAMESPACE: 'team-b', ALLOWED_ECR_ENDPOINTS: ' http://localhost:4566 , ' });
    expect(config.namespaces).to.deep.equal(['team-b']);
    expect(config.allowedEndpoints).to.deep.equal(['http://localhost:4566']);
  });

  it('prefers a flag over the environment variable for the same setting', () => {
    const config = parse(['--namespace', 'from-flag', '--allowed-endpoints='], { WATCH_NAMESPACE: 'from-env', ALLOWED_ECR_ENDPOINTS: 'http://env:1' });
    expect(config.namespaces).to.deep.equal(['from-flag']);
    expect(config.allowedEndpoints).to.deep.equal([]);
  });

  it('watches all namespaces when --namespace is empty', () => {
    expect(parse(['--namespace='], { WATCH_NAMESPACE: 'team-b' }).namespaces).to.equal(undefined);
  });

  describe('the watched namespaces', () => {
    it('takes a comma-separated list from --namespaces, in order, without blanks or repeats', () => {
      expect(parse(['--namespaces=team-a, team-b,,team-a,']).namespaces).to.deep.equal(['team-a', 'team-b']);
      expect(parse(['--namespaces', 'team-c']).namespaces).to.deep.equal(['team-c']);
    });

    it('reads --namespace as a list of one', () => {
      expect(parse(['--namespace=team-a']).namespaces).to.deep.equal(['team-a']);
    });

    it('takes WATCH_NAMESPACES, or WATCH_NAMESPACE, when no flag names namespaces', () => {
      expect(parse([], { WATCH_NAMESPACES: 'team-a,team-b' }).namespaces).to.deep.equal(['team-a', 'team-b']);
      expect(parse([], { WATCH_NAMESPACE: 'team-a' }).namespaces).to.deep.equal(['team-a']);
      expect(parse([], { WATCH_NAMESPACES: '', WATCH_NAMESPACE: 'team-a' }).namespaces, 'an empty variable is unset').to.deep.equal(['team-a']);
    });

    it('prefers either flag over either environment variable', () => {
      expect(parse(['--namespaces=from-flag'], { WATCH_NAMESPACE: 'from-env' }).namespaces).to.deep.equal(['from-flag']);
      expect(parse(['--namespace=from-flag'], { WATCH_NAMESPACES: 'env-a,env-b' }).namespaces).to.deep.equal(['from-flag']);
      expect(parse(['--namespaces='], { WATCH_NAMESPACES: 'env-a' }).namespaces, 'an empty flag means all').to.equal(undefined);
    });

    it('watches all namespaces when the list holds no name', () => {
      expect(parse(['--namespaces=,']).namespaces).to.equal(undefined);
    });

    it('shows the list in the start-up log line', () => {
      expect(describeConfig(parse(['--namespaces=team-a,team-b'])).namespaces).to.deep.equal(['team-a', 'team-b']);
      expect(describeConfig(parse()).namespaces).to.equal('(all)');
    });

    const refusals: Array<[string[], Record<string, string>, RegExp]> = [
      [['--namespaces=team-a', '--namespace=team-b'], {}, /^give --namespaces or --namespace, not both$/],
      [[], { WATCH_NAMESPACES: 'team-a', WATCH_NAMESPACE: 'team-b' }, /^set WATCH_NAMESPACES or WATCH_NAMESPACE, not both$/],
      [['--namespace=team-a,team-b'], {}, /^invalid --namespace "team-a,team-b": must be one namespace; use --namespaces for a list$/],
      [['--namespaces=team-a,Team_B'], {}, /^invalid --namespaces "team-a,Team_B": "Team_B" is not a Kubernetes namespace name$/],
      [['--namespaces=Team_A'], {}, /^invalid --namespaces "Team_A": must be a Kubernetes namespace name$/],
      [[], { WATCH_NAMESPACES: 'ok,NOPE' }, /^invalid --namespaces "ok,NOPE": "NOPE" is not a Kubernetes namespace name$/],
    ];
    for (const [argv, env, expected] of refusals) {
      it(`refuses ${[...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`, () => {
        expect(parseError(argv, env)).to.match(expected);
      });
    }
  });

  it("finds the Lease namespace from POD_NAMESPACE, then the service account's file, then default", () => {
    const file = { [SERVICE_ACCOUNT_NAMESPACE_FILE]: 'from-file\n' };
    expect(parse([], { POD_NAMESPACE: 'from-env' }, file).leaderElection.namespace).to.equal('from-env');
    expect(parse([], {}, file).leaderElection.namespace).to.equal('from-file');
    expect(parse([], {}, {}).leaderElection.namespace).to.equal('default');
    expect(parse(['--leader-election-namespace=flag'], { POD_NAMESPACE: 'from-env' }).leaderElection.namespace).to.equal('flag');
  });

  it('names the replica after POD_NAME when set, else the host name', () => {
    expect(parse([], { POD_NAME: 'operator-7d9f-abcde' }).instance).to.equal('operator-7d9f-abcde');
    expect(parse().instance).to.equal('host-1');
  });

  it('accepts a bare boolean flag, or true/false as the next argument', () => {
    expect(parse(['--leader-elect']).leaderElection.enabled).to.equal(true);
    expect(parse(['--leader-elect', 'false']).leaderElection.enabled).to.equal(false);
    expect(parse(['--leader-elect', '--workers=2']).leaderElection.enabled).to.equal(true);
  });

  it('disables the metrics server with --metrics-bind-address=0', () => {
    expect(parse(['--metrics-bind-address=0']).metricsBindAddress).to.equal(undefined);
  });

  it('accepts port 0 so tests can bind a free port', () => {
    expect(parse(['--health-probe-bind-address=127.0.0.1:0']).healthProbeBindAddress).to.deep.equal({ host: '127.0.0.1', port: 0 });
  });

  it('accepts leader election timings with client-go margins and a second for a write in flight', () => {
    expect(parse(['--lease-duration=3s', '--renew-deadline=2s', '--retry-period=500ms']).leaderElection).to.include({
      leaseDurationMs: 3_000,
      renewDeadlineMs: 2_000,
      retryPeriodMs: 500,
    });
    expect(parse(['--lease-duration=11s', '--renew-deadline=10s', '--retry-period=8s']).leaderElection.retryPeriodMs).to.equal(8_000);
  });

  it('returns the usage text for --help, whatever else is given', () => {
    const result = parseConfig({ argv: ['--workers=nope', '--help'], env: {} });
    expect(result).to.have.property('help').that.includes('--leader-election-id');
  });

  describe('refuses bad values with a one-line message naming the setting', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--workers=0'], /invalid --workers "0": must be a whole number from 1 to 1000/],
      [['--workers=2.5'], /invalid --workers "2.5"/],
      [['--workers'], /flag --workers needs a value/],
      [['--lease-duration=15'], /invalid --lease-duration "15": must be a duration such as 15s/],
      [['--lease-duration=1500ms', '--renew-deadline=1s', '--retry-period=200ms'], /invalid --lease-duration "1500ms": must be whole seconds/],
      [['--renew-deadline=20s'], /--lease-duration must be at least 1s longer than --renew-deadline/],
      [['--lease-duration=3s', '--renew-deadline=2500ms', '--retry-period=500ms'], /--lease-duration must be at least 1s longer than --renew-deadline/],
      [['--retry-period=10s'], /--renew-deadline must be longer than 1.2 × --retry-period/],
      [['--renew-deadline=6s', '--retry-period=5s'], /--renew-deadline must be longer than 1.2 × --retry-period \(client-go's jitter factor\)/],
      [['--shutdown-timeout=0s'], /invalid --shutdown-timeout "0s": must be longer than zero/],
      [['--metrics-bind-address=8080'], /invalid --metrics-bind-address "8080": must be host:port/],
      [['--health-probe-bind-address=:70000'], /invalid --health-probe-bind-address ":70000": port must be at most 65535/],
      [['--log-level=loud'], /invalid --log-level "loud": must be one of error, warn, info/],
      [['--log-format=xml'], /invalid --log-format "xml": must be json or text/],
      [['--leader-elect=yes'], /invalid --leader-elect "yes": must be true or false/],
      [['--namespace=Team_A'], /invalid --namespace "Team_A": must be a Kubernetes namespace name/],
      [['--leader-election-id=Bad Name'], /invalid --leader-election-id "Bad Name"/],
      [['--allowed-endpoints=ftp://x'], /invalid --allowed-endpoints: endpoint allowlist entry "ftp:\/\/x" is not a URL origin/],
      [['--sts-endpoint=not a url'], /invalid --sts-endpoint "not a url": must be an http\(s\) URL/],
      [['--no-such-flag'], /unknown flag --no-such-flag \(see --help\)/],
      [['positional'], /unexpected argument "positional"/],
      [['--workers=2', '--workers=3'], /flag --workers given twice/],
    ];
    for (const [argv, expected] of cases) {
      it(argv.join(' '), () => {
        expect(parseError(argv)).to.match(expected);
      });
    }

    it('names the environment variable value too', () => {
      expect(parseError([], { WATCH_NAMESPACE: 'NOPE' })).to.match(/invalid --namespace "NOPE"/);
    });
  });
});


