import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { trackPid, untrackPid } from './cleanup.ts';

export interface ManagedProcessOptions {
  /** Short name used in errors, e.g. `etcd`. */
  name: string;
  binary: string;
  args: string[];
  /** stdout and stderr are appended here, so the log survives restarts. */
  logPath: string;
  /** How many log lines an error quotes. */
  tailLines?: number;
}

export interface ReadinessOptions {
  timeoutMs: number;
  intervalMs?: number;
}

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One child process of the harness: started, probed for readiness, and stopped by its own pid. */
export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  private readonly binary: string;
  private readonly args: string[];
  private readonly tailLines: number;
  private child: ChildProcess | undefined;
  private exitStatus: ExitStatus | undefined;
  private exited: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  private stopping = false;

  constructor(options: ManagedProcessOptions) {
    this.name = options.name;
    this.binary = options.binary;
    this.args = options.args;
    this.logPath = options.logPath;
    this.tailLines = options.tailLines ?? 30;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.child !== undefined && this.exitStatus === undefined;
  }

  /** True when the process ended without stop() asking it to. */
  get crashed(): boolean {
    return this.child !== undefined && this.exitStatus !== undefined && !this.stopping;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.stopping = false;
    this.exitStatus = undefined;
    const log = fs.openSync(this.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.binary, this.args, { stdio: ['ignore', log, log] });
    } finally {
      fs.closeSync(log);
    }
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) untrackPid(child.pid);
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
    // A binary that cannot be executed fails asynchronously with 'error' (and no 'exit').
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawned !== undefined) {
      this.exitStatus = { code: null, signal: null };
      throw new Error(`${this.name}: cannot run ${this.binary}: ${spawned.message}`, { cause: spawned });
    }
    if (child.pid !== undefined) trackPid(child.pid);
  }

  /** Polls `probe` until it returns true; fails early, quoting the log, if the process exits. */
  async waitUntilReady(probe: () => Promise<boolean>, options: ReadinessOptions): Promise<void> {
    const deadline = Date.now() + options.timeoutMs;
    const intervalMs = options.intervalMs ?? 100;
    for (;;) {
      if (this.exitStatus !== undefined) {
        throw this.failure(`exited (${describeExit(this.exitStatus)}) before becoming ready`);
      }
      if (await probe().catch(() => false)) return;
      if (Date.now() >= deadline) throw this.failure(`was not ready within ${options.timeoutMs} ms`);
      await sleep(intervalMs);
    }
  }

  /** SIGTERM, then SIGKILL once `timeoutMs` has passed. Only this process's own pid is signalled. */
  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exitStatus !== undefined) return;
    this.stopping = true;
    child.kill('SIGTERM');
    // The deadline timer is cancelled once the process exits, so it cannot hold the event loop open.
    const deadline = new AbortController();
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      sleep(timeoutMs, true, { signal: deadline.signal }).catch(() => false),
    ]);
    deadline.abort();
    if (timedOut) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** An error naming what went wrong, with the last lines of the process's log. */
  failure(what: string): Error {
    const tail = tailOfFile(this.logPath, this.tailLines);
    const portHint = /address already in use/i.test(tail)
      ? '\n(a port it needs is already in use by another process)'
      : '';
    return new Error(
      `${this.name} ${what}${portHint}\n--- last ${this.tailLines} lines of ${this.logPath} ---\n${tail}`,
    );
  }

  /** Throws (with the log) if the process has died without being asked to. */
  assertRunning(): void {
    if (this.crashed && this.exitStatus !== undefined) {
      throw this.failure(`crashed (${describeExit(this.exitStatus)})`);
    }
  }
}

function describeExit(status: ExitStatus): string {
  if (status.signal !== null) return `signal ${status.signal}`;
  if (status.code !== null) return `exit code ${status.code}`;
  return 'could not start';
}

export function tailOfFile(path: string, lines: number): string {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch {
    return '(no log written)';
  }
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
