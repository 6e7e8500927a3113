import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tailOfFile } from './controlplane/process.ts';

export const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../..');

export interface OperatorProcessOptions {
  kubeconfigPath: string;
  /** Origins the operator may send signed ECR requests to, beyond AWS's own. */
  allowedEndpoints: string[];
  /** What `node` runs, with any Node flags before it; default `src/main.ts`. */
  entry?: string[];
  /** Where it runs; default the repository root. */
  cwd?: string;
  /** Environment on top of the caller's, such as an image's ENV. */
  env?: Record<string, string>;
  /** Further flags, such as `--leader-elect=false` or `--workers=8`. */
  flags: string[];
  metricsPort: number;
  healthPort: number;
  /** stdout and stderr (JSON log lines) go here. */
  logPath: string;
  /**
   * A process group of its own, so a Ctrl-C in the terminal reaches only the caller (the demo), which
   * then stops the operator with one SIGTERM, as the kubelet would.
   */
  detached?: boolean;
}

export interface OperatorExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The operator as a separate process, started exactly as the container starts it (`node src/main.ts`
 * plus flags), for the demo and the benchmark; its memory and its log are its own.
 */
export class OperatorProcess {
  readonly args: string[];
  readonly logPath: string;
  readonly metricsUrl: string;
  readonly readyzUrl: string;
  readonly startedAtMs = Date.now();
  private readonly child: ChildProcess;
  private exitStatus: OperatorExit | undefined;
  private readonly exited: Promise<OperatorExit>;
  private stopping = false;

  private constructor(child: ChildProcess, args: string[], options: OperatorProcessOptions) {
    this.child = child;
    this.args = args;
    this.logPath = options.logPath;
    this.metricsUrl = `http://127.0.0.1:${options.metricsPort}/metrics`;
    this.readyzUrl = `http://127.0.0.1:${options.healthPort}/readyz`;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
    // Whatever ends the caller (an error included), the operator must not outlive it.
    const killOnExit = () => {
      if (this.exitStatus === undefined && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    };
    process.on('exit', killOnExit);
    void this.exited.then(() => process.off('exit', killOnExit));
  }

  static async start(options: OperatorProcessOptions): Promise<OperatorProcess> {
    const args = [
      ...(options.entry ?? ['src/main.ts']),
      `--kubeconfig=${options.kubeconfigPath}`,
      `--allowed-endpoints=${options.allowedEndpoints.join(',')}`,
      `--metrics-bind-address=127.0.0.1:${options.metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${options.healthPort}`,
      ...options.flags,
    ];
    const log = fs.openSync(options.logPath, 'a');
    let child: ChildProcess;
    try {
      // process.execPath: the Node 24 that runs the caller (npm puts the `node` devDependency first on PATH).
      child = spawn(process.execPath, args, { cwd: options.cwd ?? REPOSITORY_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', log, log], detached: options.detached ?? false });
    } finally {
      fs.closeSync(log);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`cannot start the operator: ${error.message}`, { cause: error })));
    });
    return new OperatorProcess(child, args, options);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the operator has no pid');
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** True when it exited without stop() asking. */
  get crashed(): boolean {
    return this.exitStatus !== undefined && !this.stopping;
  }

  assertRunning(): void {
    if (this.exitStatus) throw new Error(`the operator exited (${describeExit(this.exitStatus)})\n${this.logTail(15)}`);
  }

  /** The command line as a person would type it. */
  commandLine(): string {
    return ['node', ...this.args].join(' ');
  }

  /**
   * Waits for /readyz to answer 200 (informers synced) and returns the milliseconds since spawn;
   * fails with the log's tail if the process exits first.
   */
  async waitUntilReady(timeoutMs = 60_000): Promise<number> {
    const started = this.startedAtMs;
    for (;;) {
      if (this.exitStatus) throw new Error(`the operator exited (${describeExit(this.exitStatus)}) before it was ready\n${this.logTail(15)}`);
      try {
        const response = await fetch(this.readyzUrl, { signal: AbortSignal.timeout(1_000) });
        await response.arrayBuffer();
        if (response.status === 200) return Date.now() - started;
      } catch {
        // Not listening yet.
      }
      if (Date.now() - started > timeoutMs) throw new Error(`the operator was not ready within ${timeoutMs} ms\n${this.logTail(15)}`);
      await sleep(100);
    }
  }

  /** The /metrics text, or undefined when it does not answer. */
  async metricsText(): Promise<string | undefined> {
    try {
      const response = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(2000) });
      return await response.text();
    } catch {
      return undefined;
    }
  }

  /** SIGTERM, as the kubelet sends it; SIGKILL if it has not exited after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<OperatorExit & { tookMs: number }> {
    const started = Date.now();
    if (this.exitStatus) return { ...this.exitStatus, tookMs: 0 };
    this.stopping = true;
    this.child.kill('SIGTERM');
    const deadline = new AbortController();
    const finished = await Promise.race([this.exited, sleep(timeoutMs, undefined, { signal: deadline.signal }).catch(() => undefined)]);
    deadline.abort();
    if (!finished) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return { ...this.exitStatus!, tookMs: Date.now() - started };
  }

  logTail(lines: number): string {
    return tailOfFile(this.logPath, lines);
  }

  exitDescription(): string {
    return this.exitStatus ? describeExit(this.exitStatus) : 'running';
  }
}

export function describeExit(exit: OperatorExit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}
