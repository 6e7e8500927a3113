import { type CommandResult, runCommand } from '../run-command.ts';

export type KubectlResult = CommandResult;

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
  const fullArgs = [`--kubeconfig=${options.kubeconfig ?? runner.defaultKubeconfig}`, `--cache-dir=${runner.cacheDir}`, ...args];
  return runCommand(runner.binary, fullArgs, { input: options.stdin ?? '', timeoutMs: options.timeoutMs ?? 60_000 });
}
