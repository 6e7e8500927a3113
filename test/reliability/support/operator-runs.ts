import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deploymentEnv } from '../../bench/deployment-env.ts';
import { trackTempDir } from '../../support/controlplane/cleanup.ts';
import { freePort } from '../../support/controlplane/ports.ts';
import { parseDockerfile } from '../../support/dockerfile.ts';
import { testEnv } from '../../support/env.ts';
import { OperatorProcess, REPOSITORY_ROOT } from '../../support/operator-process.ts';

/**
 * The operator as shipped, as a process of its own, for the reliability campaign's faults that kill
 * it or watch its memory: the Dockerfile's bundle (`npm run build`, written to a temp folder) run with
 * the Dockerfile's ENTRYPOINT Node flags and the Deployment's environment (its heap cap). The bundle
 * starts in about a second where `node src/main.ts` takes several on a loaded machine, which matters
 * when the operator is killed every 3 s. The bundle is cached by the hash of what goes into it (src/,
 * package.json, package-lock.json) under ECR_OPERATOR_CACHE (default ~/.cache/ecr-operator), as the
 * control plane's binaries are.
 */
export interface ShippedOperator {
  /** What `node` runs: the ENTRYPOINT's Node flags, then the bundle. */
  entry: string[];
  cwd: string;
  env: Record<string, string>;
  buildMs: number;
}

let shipped: Promise<ShippedOperator> | undefined;

/** Builds the bundle once per test process. */
export function shippedOperator(): Promise<ShippedOperator> {
  shipped ??= buildShipped();
  return shipped;
}

async function buildShipped(): Promise<ShippedOperator> {
  const cacheRoot = process.env.ECR_OPERATOR_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'ecr-operator');
  const dir = path.join(cacheRoot, 'operator-bundle', await bundleInputsHash());
  const bundle = path.join(dir, 'operator.mjs');
  const startedMs = Date.now();
  if (!(await fs.stat(bundle).catch(() => undefined))) {
    await fs.mkdir(dir, { recursive: true });
    const building = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-bundle-'));
    trackTempDir(building);
    const output = path.join(building, 'operator.mjs');
    await new Promise<void>((resolve, reject) => {
      // The package's own build script, with its output moved out of the working tree.
      const child = spawn('npm', ['run', 'build', '--silent', '--', `--outfile=${output}`], { cwd: REPOSITORY_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build failed (${code}): ${stderr}`))));
    });
    // Same filesystem or not, copy then rename: a reader never sees half a bundle.
    const partial = `${bundle}.${process.pid}.partial`;
    await fs.copyFile(output, partial);
    await fs.rename(partial, bundle);
    await fs.rm(building, { recursive: true, force: true });
    await pruneBundles(path.dirname(dir), 3);
  }
  const buildMs = Date.now() - startedMs;
  const instructions = parseDockerfile(await fs.readFile(path.join(REPOSITORY_ROOT, 'Dockerfile'), 'utf8'));
  const entrypoint = instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
  if (!entrypoint) throw new Error('the Dockerfile has no ENTRYPOINT');
  const [program, ...args] = JSON.parse(entrypoint.args) as string[];
  if (program !== 'node' || !args.at(-1)?.endsWith('.mjs')) throw new Error(`unexpected ENTRYPOINT ${entrypoint.args}`);
  return { entry: [...args.slice(0, -1), bundle], cwd: dir, env: await deploymentEnv(), buildMs };
}

/** Keeps the `keep` most recently built bundles (one per state of src/), so the cache does not grow without end. */
async function pruneBundles(root: string, keep: number): Promise<void> {
  const dirs = await Promise.all(
    (await fs.readdir(root)).map(async (name) => ({ name, mtimeMs: (await fs.stat(path.join(root, name)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  for (const old of dirs.sort((a, b) => b.mtimeMs - a.mtimeMs).slice(keep)) await fs.rm(path.join(root, old.name), { recursive: true, force: true });
}

/** sha256 over the bundle's inputs: every file under src/, package.json and package-lock.json. */
async function bundleInputsHash(): Promise<string> {
  const hash = createHash('sha256');
  const files = ['package.json', 'package-lock.json'];
  for (const entry of await fs.readdir(path.join(REPOSITORY_ROOT, 'src'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.push(path.relative(REPOSITORY_ROOT, path.join(entry.parentPath, entry.name)));
  }
  for (const file of files.sort()) {
    hash.update(`${file}\0`);
    hash.update(await fs.readFile(path.join(REPOSITORY_ROOT, file)));
    hash.update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

export interface OperatorRunOptions {
  /** Names the log file. */
  name: string;
  namespaces: readonly string[];
  allowedEndpoints: readonly string[];
  flags?: readonly string[];
}

/**
 * Starts one operator process watching only `namespaces` (other tests' leftovers in the shared
 * control plane are not its business), without leader election: one replica, restarted in place
 * when killed, as the kubelet restarts a container.
 */
export async function startOperatorRun(options: OperatorRunOptions): Promise<OperatorProcess> {
  const build = await shippedOperator();
  const logDir = await operatorLogDir();
  return OperatorProcess.start({
    kubeconfigPath: testEnv().kubeconfigPath,
    allowedEndpoints: [...options.allowedEndpoints],
    entry: build.entry,
    cwd: build.cwd,
    env: build.env,
    flags: ['--leader-elect=false', `--namespaces=${options.namespaces.join(',')}`, '--log-level=info', ...(options.flags ?? [])],
    metricsPort: await freePort(),
    healthPort: await freePort(),
    logPath: path.join(logDir, `${options.name}-${Date.now()}.log`),
  });
}

let logDir: Promise<string> | undefined;

/**
 * Where the operator processes write their logs: kept after the run (a failure's tail is in the test's
 * message, the rest is there), and pruned of files older than a day on the first use in a test process.
 */
function operatorLogDir(): Promise<string> {
  logDir ??= (async () => {
    const dir = path.join(os.tmpdir(), 'ecr-operator-reliability-logs');
    await fs.mkdir(dir, { recursive: true });
    const dayAgo = Date.now() - 24 * 60 * 60_000;
    for (const name of await fs.readdir(dir)) {
      const file = path.join(dir, name);
      const stat = await fs.stat(file).catch(() => undefined);
      if (stat && stat.mtimeMs < dayAgo) await fs.rm(file, { force: true });
    }
    return dir;
  })();
  return logDir;
}

/** One sample of a Prometheus text page: name, labels and value. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the samples of a Prometheus text exposition (comments skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `labels`; undefined when there is none. */
export function metricSum(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

/** Least-squares slope of y over x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** The open file descriptors of a process (sockets included), from /proc; undefined once it is gone. */
export async function openFds(pid: number): Promise<number | undefined> {
  try {
    return (await fs.readdir(`/proc/${pid}/fd`)).length;
  } catch {
    return undefined;
  }
}

/** The sockets among a process's open file descriptors. */
export async function openSockets(pid: number): Promise<number | undefined> {
  try {
    const fds = await fs.readdir(`/proc/${pid}/fd`);
    let sockets = 0;
    for (const fd of fds) {
      const target = await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      if (target.startsWith('socket:')) sockets += 1;
    }
    return sockets;
  } catch {
    return undefined;
  }
}

/** Percentile (0..100) of numbers, nearest rank; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
