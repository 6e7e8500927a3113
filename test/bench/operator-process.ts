import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../..');

export interface BenchOperatorOptions {
  kubeconfigPath: string;
  allowedEndpoints: string[];
  workers: number;
  metricsPort: number;
  healthPort: number;
  logPath: string;
}

/** The operator as its own process (`node src/main.ts`), so its memory is its own. */
export class BenchOperator {
  readonly metricsUrl: string;
  readonly readyzUrl: string;
  readonly logPath: string;
  readonly startedAtMs: number;
  private readonly child: ChildProcess;
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(child: ChildProcess, options: BenchOperatorOptions) {
    this.child = child;
    this.startedAtMs = Date.now();
    this.logPath = options.logPath;
    this.metricsUrl = `http://127.0.0.1:${options.metricsPort}/metrics`;
    this.readyzUrl = `http://127.0.0.1:${options.healthPort}/readyz`;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      }),
    );
    const killOnExit = () => {
      if (this.exitCode === undefined) child.kill('SIGKILL');
    };
    process.on('exit', killOnExit);
  }

  static async start(options: BenchOperatorOptions): Promise<BenchOperator> {
    const args = [
      'src/main.ts',
      `--kubeconfig=${options.kubeconfigPath}`,
      `--allowed-endpoints=${options.allowedEndpoints.join(',')}`,
      '--leader-elect=false',
      `--workers=${options.workers}`,
      `--metrics-bind-address=127.0.0.1:${options.metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${options.healthPort}`,
      '--log-level=warn',
    ];
    const log = fs.openSync(options.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { cwd: REPOSITORY_ROOT, stdio: ['ignore', log, log] });
    } finally {
      fs.closeSync(log);
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    return new BenchOperator(child, options);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('the operator has no pid');
    return this.child.pid;
  }

  assertRunning(): void {
    if (this.exitCode !== undefined) throw new Error(`the operator exited with ${this.exitCode}; see ${this.logPath}`);
  }

  /** Milliseconds from spawn until /readyz answers 200 (informers synced). */
  async waitUntilReady(timeoutMs = 60_000): Promise<number> {
    for (;;) {
      this.assertRunning();
      try {
        const response = await fetch(this.readyzUrl, { signal: AbortSignal.timeout(1000) });
        await response.arrayBuffer();
        if (response.status === 200) return Date.now() - this.startedAtMs;
      } catch {
        // Not listening yet.
      }
      if (Date.now() - this.startedAtMs > timeoutMs) throw new Error(`the operator was not ready within ${timeoutMs} ms; see ${this.logPath}`);
      await sleep(100);
    }
  }

  async metricsText(): Promise<string | undefined> {
    try {
      const response = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(2000) });
      return await response.text();
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}
