import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Runs promtool built from Go modules (github.com/prometheus/prometheus at PROMETHEUS_VERSION in
 * test/controlplane/versions.env) by test/controlplane/promtool.sh, which `npm run controlplane`
 * runs too; built once and cached.
 */

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

const CONTROLPLANE_DIR = path.resolve(import.meta.dirname, '../controlplane');

/** Runs the cached promtool (building it first when missing). A non-zero exit is returned, not thrown. */
export async function promtool(args: readonly string[], options: { cwd?: string } = {}): Promise<ToolResult> {
  return run(await cachedPath('promtool.sh'), args, { timeoutMs: 120_000, ...options });
}

/** The folder holding the Prometheus Operator's ServiceMonitor, PodMonitor and PrometheusRule CRDs, fetched from its Go module. */
export function prometheusOperatorCrdDir(): Promise<string> {
  return cachedPath('prometheus-operator-crds.sh');
}

/** A controlplane script's last stdout line: the cached file or folder (a cold promtool build takes minutes). */
async function cachedPath(script: string): Promise<string> {
  const file = path.join(CONTROLPLANE_DIR, script);
  const { code, stdout, stderr } = await run('bash', [file], { timeoutMs: 30 * 60_000 });
  if (code !== 0) {
    const reason = stderr.trimEnd().split('\n').find((line) => line.startsWith('controlplane: error:')) ?? stderr.trim();
    throw new Error(`${file} failed: ${reason}`);
  }
  const found = stdout.trimEnd().split('\n').at(-1) ?? '';
  fs.accessSync(found, fs.constants.R_OK);
  return found;
}

function run(command: string, args: readonly string[], options: { timeoutMs: number; cwd?: string }): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(options.cwd ? { cwd: options.cwd } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') stderr += `\n(${path.basename(command)} killed after ${options.timeoutMs} ms)`;
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}
