import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Runs Helm built from Go modules (helm.sh/helm at HELM_VERSION in test/controlplane/versions.env)
 * by test/controlplane/helm.sh, which `npm run controlplane` runs too; built once and cached.
 */

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HelmOptions {
  stdin?: string;
  /** Added to the process's environment. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

const buildScript = path.resolve(import.meta.dirname, '../controlplane/helm.sh');

/** Runs the cached helm binary (building it first when missing). A non-zero exit is returned, not thrown. */
export async function helm(args: readonly string[], options: HelmOptions = {}): Promise<HelmResult> {
  return run(await locateHelm(), args, options);
}

/** The path of the helm binary: helm.sh's last stdout line (a cold build takes a few minutes). */
export async function locateHelm(): Promise<string> {
  const { code, stdout, stderr } = await run('bash', [buildScript], { timeoutMs: 30 * 60_000 });
  if (code !== 0) {
    const reason = stderr.trimEnd().split('\n').find((line) => line.startsWith('controlplane: error:')) ?? stderr.trim();
    throw new Error(`${buildScript} failed: ${reason}`);
  }
  const binary = stdout.trimEnd().split('\n').at(-1) ?? '';
  fs.accessSync(binary, fs.constants.X_OK);
  return binary;
}

function run(command: string, args: readonly string[], options: HelmOptions): Promise<HelmResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') stderr += `\n(${path.basename(command)} killed after ${timeoutMs} ms)`;
      resolve({ code: code ?? 1, stdout, stderr });
    });
    // The process may exit before reading all of stdin (a flag error); that is not our failure.
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}
