import { spawn } from 'node:child_process';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  stdin?: string;
  /** Defaults to the admin kubeconfig. */
  kubeconfig?: string;
  timeoutMs?: number;
}

export interface KubectlRunner {
  binary: string;
  defaultKubeconfig: string;
  /** kubectl's discovery cache, kept inside the harness's temp folder instead of ~/.kube. */
  cacheDir: string;
}

/** Runs the real kubectl against the harness. A non-zero exit is returned, not thrown. */
export function runKubectl(runner: KubectlRunner, args: string[], options: KubectlOptions = {}): Promise<KubectlResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const fullArgs = [`--kubeconfig=${options.kubeconfig ?? runner.defaultKubeconfig}`, `--cache-dir=${runner.cacheDir}`, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(runner.binary, fullArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
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
      reject(new Error(`cannot run ${runner.binary}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') stderr += `\n(kubectl killed after ${timeoutMs} ms)`;
      resolve({ code: code ?? 1, stdout, stderr });
    });
    // kubectl may exit before reading all of stdin (e.g. on a flag error); that is not our failure.
    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin ?? '');
  });
}
