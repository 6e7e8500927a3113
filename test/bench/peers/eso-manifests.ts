/**
 * External Secrets Operator's idiom for ECR pull secrets, as its docs show it (docs/api/generator/ecr.md,
 * docs/snippets/generator-ecr*.yaml in v0.16.2): one ECRAuthorizationToken generator per set of AWS
 * credentials, and one ExternalSecret per pull secret whose `dataFrom` names the generator and whose
 * template builds a kubernetes.io/dockerconfigjson Secret from the generator's outputs
 * (`username`, `password`, `proxy_endpoint`, `expires_at`). Pure: no I/O.
 */

export const ESO_GROUP = 'external-secrets.io';
/** The ExternalSecret version v0.16.2 stores (v1beta1 is still served; v1 needs no conversion). */
export const ESO_VERSION = 'v1';
export const ESO_GENERATORS_GROUP = 'generators.external-secrets.io';
export const ESO_GENERATORS_VERSION = 'v1alpha1';
export const EXTERNAL_SECRETS = { group: ESO_GROUP, version: ESO_VERSION, plural: 'externalsecrets' } as const;
export const ECR_TOKENS = { group: ESO_GENERATORS_GROUP, version: ESO_GENERATORS_VERSION, plural: 'ecrauthorizationtokens' } as const;

/** The keys the bench's credentials Secrets hold (as the operator's EcrRegistries read them). */
export const ACCESS_KEY_ID_KEY = 'AWS_ACCESS_KEY_ID';
export const SECRET_ACCESS_KEY_KEY = 'AWS_SECRET_ACCESS_KEY';

/**
 * The `.dockerconfigjson` template (engine v2, Go text/template with sprig): the registry host is the
 * generator's proxy_endpoint without its scheme, as `docker login` and kubelet expect.
 */
export const DOCKERCONFIGJSON_TEMPLATE =
  '{"auths":{"{{ .proxy_endpoint | trimPrefix "https://" }}":{"username":"{{ .username }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}';

export interface EcrGeneratorShape {
  namespace: string;
  /** The generator's name; the credentials Secret has the same name. */
  name: string;
  region: string;
  labels: Record<string, string>;
}

export function ecrAuthorizationToken(shape: EcrGeneratorShape) {
  return {
    apiVersion: `${ESO_GENERATORS_GROUP}/${ESO_GENERATORS_VERSION}`,
    kind: 'ECRAuthorizationToken',
    metadata: { name: shape.name, namespace: shape.namespace, labels: shape.labels },
    spec: {
      region: shape.region,
      auth: {
        secretRef: {
          accessKeyIDSecretRef: { name: shape.name, key: ACCESS_KEY_ID_KEY },
          secretAccessKeySecretRef: { name: shape.name, key: SECRET_ACCESS_KEY_KEY },
        },
      },
    },
  };
}

export interface ExternalSecretShape {
  namespace: string;
  /** The ExternalSecret's name, and its target Secret's. */
  name: string;
  generator: string;
  /** Go duration, e.g. "1h" (ESO's documented example) or "180s". */
  refreshInterval: string;
  /** Labels for the ExternalSecret and, through the template, for the Secret it writes. */
  labels: Record<string, string>;
}

export function externalSecret(shape: ExternalSecretShape) {
  return {
    apiVersion: `${ESO_GROUP}/${ESO_VERSION}`,
    kind: 'ExternalSecret',
    metadata: { name: shape.name, namespace: shape.namespace, labels: shape.labels },
    spec: {
      refreshInterval: shape.refreshInterval,
      target: {
        name: shape.name,
        template: {
          engineVersion: 'v2',
          type: 'kubernetes.io/dockerconfigjson',
          metadata: { labels: shape.labels },
          data: { '.dockerconfigjson': DOCKERCONFIGJSON_TEMPLATE },
        },
      },
      dataFrom: [
        {
          sourceRef: {
            generatorRef: { apiVersion: `${ESO_GENERATORS_GROUP}/${ESO_GENERATORS_VERSION}`, kind: 'ECRAuthorizationToken', name: shape.generator },
          },
        },
      ],
    },
  };
}

/**
 * The ESO controller's command line: the root command (the controller), with the Helm chart's defaults
 * (no leader election, `--concurrent=1`, every reconciler on, log level info) and the metrics
 * listener on loopback. No webhook or cert-controller: the CRDs as bundled convert nothing.
 */
export function esoArgs(options: { metricsPort: number; concurrent: number; logLevel?: string }): string[] {
  return [`--metrics-addr=127.0.0.1:${options.metricsPort}`, `--concurrent=${options.concurrent}`, `--loglevel=${options.logLevel ?? 'info'}`];
}

/** Settings of the side-by-side scenario (BENCH_PEERS=eso turns it on; settings.ts reads that), from BENCH_PEERS_* variables. */
export interface PeerSettings {
  /** ESO's --concurrent (Helm default 1). */
  esoConcurrent: number;
  /** ExternalSecret refreshInterval for the convergence fleet (ESO's documented example: 1h). */
  refreshInterval: string;
  /** The expiry check: secrets, token lifetime, the ExternalSecrets' refreshInterval, and how long to sample. */
  expirySecrets: number;
  expiryTokenLifetimeSeconds: number;
  expiryRefreshSeconds: number;
  expirySampleSeconds: number;
  /** ESO_SOURCE_DIR, when a full source tree is built instead of the proxy's v0.16.2. */
  esoSourceDir?: string;
}

export const PEER_HELP = [
  'BENCH_PEERS_ESO_CONCURRENT      ESO --concurrent (default 1, its Helm default)',
  'BENCH_PEERS_REFRESH             ExternalSecret refreshInterval for the fleet (default 1h, as ESO\'s docs show)',
  'BENCH_PEERS_EXPIRY_SECRETS      pull secrets in the expiry check (default 100)',
  'BENCH_PEERS_EXPIRY_LIFETIME     token lifetime in seconds in the expiry check (default 120)',
  'BENCH_PEERS_EXPIRY_REFRESH      ExternalSecret refreshInterval in seconds in the expiry check (default 180)',
  'BENCH_PEERS_EXPIRY_SECONDS      how long the expiry check samples the pull secrets (default 210)',
  'ESO_SOURCE_DIR                  a full ESO source tree to build instead of v$ESO_VERSION from the Go module proxy',
];

export function readPeerSettings(env: Readonly<Record<string, string | undefined>>): PeerSettings {
  const int = (name: string, fallback: number, min = 1): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, not ${JSON.stringify(raw)}`);
    return n;
  };
  const refreshInterval = env.BENCH_PEERS_REFRESH || '1h';
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(refreshInterval)) throw new Error(`BENCH_PEERS_REFRESH must be a Go duration such as 1h, not ${JSON.stringify(refreshInterval)}`);
  const settings: PeerSettings = {
    esoConcurrent: int('BENCH_PEERS_ESO_CONCURRENT', 1),
    refreshInterval,
    expirySecrets: int('BENCH_PEERS_EXPIRY_SECRETS', 100),
    expiryTokenLifetimeSeconds: int('BENCH_PEERS_EXPIRY_LIFETIME', 120, 10),
    expiryRefreshSeconds: int('BENCH_PEERS_EXPIRY_REFRESH', 180, 10),
    expirySampleSeconds: int('BENCH_PEERS_EXPIRY_SECONDS', 210, 10),
  };
  if (env.ESO_SOURCE_DIR) settings.esoSourceDir = env.ESO_SOURCE_DIR;
  return settings;
}

/** One side's figures, as the table shows them. */
export interface PeerFigures {
  name: string;
  convergenceSeconds: number;
  getAuthorizationTokenCalls: number;
  apiserverReads: number;
  apiserverWrites: number;
  quietReads: number;
  quietWrites: number;
  quietSeconds: number;
  peakRssMiB: number;
  settledRssMiB: number;
  cpuSeconds: number;
  expiry: { secrets: number; secretsServedExpired: number; lifetimeSeconds: number; refreshSeconds?: number };
}

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

/** A Markdown table, one column per side, for the README's sizing section and the bench summary. */
export function peerTable(sides: readonly PeerFigures[]): string {
  const rows: Array<[string, (f: PeerFigures) => string]> = [
    ['Convergence (process start → every pull secret valid)', (f) => `${fixed(f.convergenceSeconds)} s`],
    ['GetAuthorizationToken calls', (f) => String(f.getAuthorizationTokenCalls)],
    ['apiserver reads / writes during convergence', (f) => `${f.apiserverReads} / ${f.apiserverWrites}`],
    ['apiserver reads / writes in a quiet minute', (f) => `${fixed((f.quietReads * 60) / f.quietSeconds, 0)} / ${fixed((f.quietWrites * 60) / f.quietSeconds, 0)}`],
    ['Peak / settled RSS', (f) => `${fixed(f.peakRssMiB, 0)} / ${fixed(f.settledRssMiB, 0)} MiB`],
    ['CPU seconds during convergence', (f) => fixed(f.cpuSeconds)],
    [
      'Secrets that served an expired token',
      (f) => `${f.expiry.secretsServedExpired} of ${f.expiry.secrets} (tokens live ${f.expiry.lifetimeSeconds} s${f.expiry.refreshSeconds ? `, refreshInterval ${f.expiry.refreshSeconds} s` : ''})`,
    ],
  ];
  const header = `| | ${sides.map((s) => s.name).join(' | ')} |`;
  const rule = `|---|${sides.map(() => '---').join('|')}|`;
  return [header, rule, ...rows.map(([label, cell]) => `| ${label} | ${sides.map(cell).join(' | ')} |`)].join('\n');
}
