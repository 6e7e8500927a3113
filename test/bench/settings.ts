/** Bench sizes and durations, from BENCH_* environment variables or --name=value flags (flags win). */
export interface BenchSettings {
  registries: number;
  namespaces: number;
  /** Namespaces the ClusterEcrRegistry of the fanout scenario selects. */
  fanoutNamespaces: number;
  /** Registries per credentials Secret (one credential set each). */
  registriesPerCredentials: number;
  imports: number;
  tagsPerImport: number;
  workers: number;
  /** Timed passes of each bare loop; the fastest pass is the denominator. */
  barePasses: number;
  /** Timed cold starts of the operator over the same fleet; the fastest is set against the fastest bare pass. */
  coldStarts: number;
  quietSeconds: number;
  rotationRegistries: number;
  rotationLifetimeSeconds: number;
  /** EcrRegistries the latency scenario creates one at a time over the settled fleet. */
  latencyRegistries: number;
  /** Scenario names to run: convergence, bare, steady, latency, rotation, imports, fanout. */
  scenarios: Set<string>;
  /** Peers to run side by side with the operator (known: eso); none by default. */
  peers: Set<string>;
  timeoutSeconds: number;
  /** Run `node src/main.ts` instead of the image layout the Dockerfile builds (its bundle and Node flags). */
  fromSource: boolean;
  out?: string;
}

export const ALL_SCENARIOS = ['convergence', 'bare', 'steady', 'latency', 'rotation', 'imports', 'fanout'] as const;

export const KNOWN_PEERS = ['eso'] as const;

export const BENCH_HELP = [
  'BENCH_REGISTRIES / --registries        EcrRegistries in scenario 1 (default 1000)',
  'BENCH_NAMESPACES / --namespaces        namespaces they spread over (default 50)',
  'BENCH_FANOUT_NAMESPACES / --fanout-namespaces   namespaces the fanout scenario\'s one ClusterEcrRegistry selects (default 1000)',
  'BENCH_GROUP / --group                  registries sharing one credentials Secret (default 10)',
  'BENCH_IMPORTS / --imports              ImageImports in scenario 5 (default 500)',
  'BENCH_TAGS / --tags                    tags per ImageImport (default 3)',
  'BENCH_WORKERS / --workers              operator --workers and bare-loop concurrency (default 4)',
  'BENCH_BARE_PASSES / --bare-passes      timed passes of each bare loop; the fastest pass is the denominator (default 3)',
  'BENCH_COLD_STARTS / --cold-starts      timed cold starts of the operator in scenario 1; the fastest is set against the fastest bare pass (default 3)',
  'BENCH_QUIET_SECONDS / --quiet-seconds  steady-state windows, which also count watch re-opens (default 60; 600 or more lets each watch reach a 5-10 min server-side timeout)',
  'BENCH_LATENCY_REGISTRIES / --latency-registries     EcrRegistries the latency scenario creates one at a time (default 50)',
  'BENCH_ROTATION_REGISTRIES / --rotation-registries   registries in the rotation wave, whose Events give the Event budget (default 1000)',
  'BENCH_ROTATION_LIFETIME / --rotation-lifetime       token lifetime in seconds for the wave (default 120; refreshes come at about half)',
  'BENCH_SCENARIOS / --scenarios          comma list of convergence,bare,steady,latency,rotation,imports,fanout, or none (default all)',
  'BENCH_PEERS / --peers                  comma list of peers run side by side on a fresh control plane: eso (default none)',
  'BENCH_TIMEOUT_SECONDS / --timeout-seconds  per-scenario wait limit (default 600)',
  'BENCH_FROM_SOURCE / --from-source     1 runs node src/main.ts instead of the Dockerfile\'s image layout (default 0)',
  'BENCH_OUT / --out                      JSON report path (default <tmp>/bench-report-<time>.json)',
];

export class BenchSettingsError extends Error {}

export function readBenchSettings(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): BenchSettings {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!match) throw new BenchSettingsError(`unexpected argument ${JSON.stringify(arg)}; use --name=value`);
    flags.set(match[1]!, match[2]!);
  }
  const text = (flag: string, envName: string): string | undefined => flags.get(flag) ?? env[envName];
  const int = (flag: string, envName: string, fallback: number, min = 1): number => {
    const raw = text(flag, envName);
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min) throw new BenchSettingsError(`--${flag} (${envName}) must be a whole number ≥ ${min}, not ${JSON.stringify(raw)}`);
    return n;
  };
  const scenarioText = text('scenarios', 'BENCH_SCENARIOS');
  // `none` runs no scenario of the operator's own, e.g. with BENCH_PEERS to run the side-by-side comparison alone.
  const scenarios = new Set(scenarioText === 'none' ? [] : scenarioText ? scenarioText.split(',').map((s) => s.trim()).filter(Boolean) : ALL_SCENARIOS);
  for (const s of scenarios) {
    if (!(ALL_SCENARIOS as readonly string[]).includes(s)) throw new BenchSettingsError(`unknown scenario ${s}; known: ${ALL_SCENARIOS.join(', ')}`);
  }
  const peerText = text('peers', 'BENCH_PEERS');
  const peers = new Set(peerText ? peerText.split(',').map((s) => s.trim()).filter(Boolean) : []);
  for (const p of peers) {
    if (!(KNOWN_PEERS as readonly string[]).includes(p)) throw new BenchSettingsError(`unknown peer ${p}; known: ${KNOWN_PEERS.join(', ')}`);
  }
  const out = text('out', 'BENCH_OUT');
  return {
    registries: int('registries', 'BENCH_REGISTRIES', 1000),
    namespaces: int('namespaces', 'BENCH_NAMESPACES', 50),
    fanoutNamespaces: int('fanout-namespaces', 'BENCH_FANOUT_NAMESPACES', 1000),
    registriesPerCredentials: int('group', 'BENCH_GROUP', 10),
    imports: int('imports', 'BENCH_IMPORTS', 500, 0),
    tagsPerImport: int('tags', 'BENCH_TAGS', 3),
    workers: int('workers', 'BENCH_WORKERS', 4),
    barePasses: int('bare-passes', 'BENCH_BARE_PASSES', 3),
    coldStarts: int('cold-starts', 'BENCH_COLD_STARTS', 3),
    quietSeconds: int('quiet-seconds', 'BENCH_QUIET_SECONDS', 60),
    rotationRegistries: int('rotation-registries', 'BENCH_ROTATION_REGISTRIES', 1000),
    rotationLifetimeSeconds: int('rotation-lifetime', 'BENCH_ROTATION_LIFETIME', 120, 10),
    latencyRegistries: int('latency-registries', 'BENCH_LATENCY_REGISTRIES', 50),
    scenarios,
    peers,
    timeoutSeconds: int('timeout-seconds', 'BENCH_TIMEOUT_SECONDS', 600),
    fromSource: int('from-source', 'BENCH_FROM_SOURCE', 0, 0) === 1,
    ...(out ? { out } : {}),
  };
}
