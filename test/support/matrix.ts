/**
 * Runs test suites side by side and prints the pass counts of each; the integration and e2e suites
 * once per pinned control plane (test/controlplane/versions.env), with ECR_TEST_KUBERNETES naming
 * the version:
 *
 *   node test/support/matrix.ts integration e2e docs    what `npm test` runs, then `... reliability`
 *   node test/support/matrix.ts integration             `npm run test:integration`
 *
 * The suites spend most of their time waiting on apiservers, operators and timers rather than on the
 * CPU (a whole `npm test` uses under half of two cores), so they run at once, each on its own control
 * plane, each line of output prefixed with its suite and version. ECR_TEST_MATRIX=sequential runs them
 * one after the other; ECR_TEST_KUBERNETES=<version> runs the per-version suites on that one only.
 * Exits non-zero if any run failed.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pinnedControlPlanes, selectedKubernetesVersion } from './controlplane/versions.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Suite {
  command: string[];
  /** Once per pinned Kubernetes version, or once on the default one. */
  perVersion: boolean;
}

const SUITES: Record<string, Suite> = {
  integration: { command: ['mocha', '--config', 'test/integration/.mocharc.json'], perVersion: true },
  e2e: { command: ['mocha', '--config', 'test/e2e/.mocharc.json'], perVersion: true },
  docs: { command: ['mocha', '--config', 'test/docs/.mocharc.json'], perVersion: false },
  // The fast subset of the reliability campaign, with its scorecard. `npm test` runs it after the
  // others, on a machine they no longer load: it judges crash loops and lease handovers by the clock.
  reliability: { command: ['node', 'test/reliability/run.ts', 'fast'], perVersion: false },
};

export interface MochaCounts {
  passing: number;
  pending: number;
  failing: number;
}

interface Run {
  label: string;
  command: string[];
  /** ECR_TEST_KUBERNETES for this run; unset runs on the default control plane. */
  version: string | undefined;
}

interface RunResult {
  run: Run;
  code: number;
  seconds: number;
  counts: MochaCounts;
}

/** The totals from mocha's spec-reporter summary ("  229 passing (4m)", "  1 pending", "  2 failing"). */
export function mochaCounts(output: string): MochaCounts {
  const count = (word: string) => {
    const matches = [...output.matchAll(new RegExp(`^\\s*(\\d+) ${word}\\b`, 'gm'))];
    return matches.length === 0 ? 0 : Number(matches.at(-1)![1]);
  };
  return { passing: count('passing'), pending: count('pending'), failing: count('failing') };
}

/** The runs for the named suites: one per pinned version for per-version suites (or only `onlyVersion`). */
export function plannedRuns(names: readonly string[], versions: readonly string[]): Run[] {
  const runs: Run[] = [];
  for (const name of names) {
    const suite = SUITES[name];
    if (!suite) throw new Error(`unknown suite ${name}; known: ${Object.keys(SUITES).join(', ')}`);
    if (!suite.perVersion) runs.push({ label: name, command: suite.command, version: undefined });
    else for (const version of versions) runs.push({ label: `${name} ${version}`, command: suite.command, version });
  }
  return runs;
}

function runOne(run: Run, width: number): Promise<RunResult> {
  const startedMs = Date.now();
  const bin = path.join(ROOT, 'node_modules/.bin');
  const prefix = `[${run.label.padEnd(width)}]`;
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` };
    if (run.version !== undefined) env.ECR_TEST_KUBERNETES = run.version;
    const child = spawn(run.command[0]!, run.command.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    const prefixed = (target: NodeJS.WriteStream, record: boolean) => {
      let pending = '';
      return (chunk: string) => {
        if (record) stdout += chunk;
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) target.write(`${prefix} ${line}\n`);
      };
    };
    child.stdout.setEncoding('utf8').on('data', prefixed(process.stdout, true));
    child.stderr.setEncoding('utf8').on('data', prefixed(process.stderr, false));
    child.once('error', reject);
    child.once('close', (code) => resolve({ run, code: code ?? 1, seconds: (Date.now() - startedMs) / 1000, counts: mochaCounts(stdout) }));
  });
}

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  if (names.length === 0) throw new Error(`usage: node test/support/matrix.ts <suite>... (${Object.keys(SUITES).join(', ')})`);
  const versions = process.env.ECR_TEST_KUBERNETES ? [selectedKubernetesVersion()] : pinnedControlPlanes().map((plane) => plane.kubernetes);
  const runs = plannedRuns(names, versions);
  const width = Math.max(...runs.map((run) => run.label.length));
  const startedMs = Date.now();
  let results: RunResult[];
  if (process.env.ECR_TEST_MATRIX === 'sequential') {
    results = [];
    for (const run of runs) results.push(await runOne(run, width));
  } else {
    results = await Promise.all(runs.map((run) => runOne(run, width)));
  }
  process.stdout.write(`\nTest suites (${((Date.now() - startedMs) / 1000).toFixed(0)} s in all):\n`);
  for (const { run, code, seconds, counts } of results) {
    const verdict = code === 0 ? 'ok' : `FAILED (exit ${code})`;
    process.stdout.write(
      `  ${run.label.padEnd(width)}  ${counts.passing} passing, ${counts.pending} pending, ${counts.failing} failing in ${seconds.toFixed(0)} s: ${verdict}\n`,
    );
  }
  if (results.some((result) => result.code !== 0)) process.exitCode = 1;
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
