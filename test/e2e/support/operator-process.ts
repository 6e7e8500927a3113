import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { trackPid, untrackPid } from '../../support/controlplane/cleanup.ts';
import type { ImageLayout } from '../../support/dockerfile.ts';

/** One JSON log line of the operator; lines that are not JSON keep their text in `message`. */
export interface LogRecord {
  level?: string;
  message?: string;
  timestamp?: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  atMs: number;
}

export interface OperatorProcessOptions {
  /** The pod name it stands in for: POD_NAME, and the start of its Lease identity. */
  name: string;
  layout: ImageLayout;
  /** Flags after the ENTRYPOINT, as a container's `args`. */
  args: string[];
  /** Environment beyond the image's ENV, as a container's `env`. */
  env: Record<string, string>;
  /** Wait at most this long for the probe and metrics servers to listen. */
  startTimeoutMs?: number;
}

const started = new Set<OperatorProcess>();

/**
 * The operator started as its container would be: the image's ENTRYPOINT (`node src/main.ts`) in the
 * image layout's WORKDIR, with the Deployment's flags, and an environment holding nothing from the
 * test process but PATH. Its log (stderr, JSON lines) is kept for assertions.
 */
export class OperatorProcess {
  readonly name: string;
  readonly pid: number;
  readonly startedAtMs: number;
  readonly exited: Promise<Exit>;
  #child: ChildProcess;
  #records: LogRecord[] = [];
  #raw: string[] = [];
  #exit: Exit | undefined;
  #listeners = new Set<() => void>();
  healthUrl = '';
  metricsUrl = '';

  constructor(options: OperatorProcessOptions) {
    const { layout } = options;
    const [program, ...entryArgs] = layout.entrypoint;
    // The image's `node` is the Node.js running these tests; the test checks both are the same major version.
    const binary = program === 'node' ? process.execPath : program;
    if (!binary) throw new Error('empty ENTRYPOINT');
    this.name = options.name;
    this.startedAtMs = Date.now();
    this.#child = spawn(binary, [...entryArgs, ...options.args], {
      cwd: layout.appDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: layout.homeDir, ...layout.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.#child.pid === undefined) throw new Error(`cannot start ${binary}`);
    this.pid = this.#child.pid;
    trackPid(this.pid);
    started.add(this);
    this.exited = new Promise((resolve) => {
      // 'close' rather than 'exit': it comes after the last log line has been read.
      this.#child.once('close', (code, signal) => {
        this.#exit = { code, signal, atMs: Date.now() };
        untrackPid(this.pid);
        started.delete(this);
        this.#notify();
        resolve(this.#exit);
      });
    });
    let partial = '';
    const onData = (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#addLine(line);
    };
    this.#child.stderr!.setEncoding('utf8').on('data', onData);
    this.#child.stdout!.setEncoding('utf8').on('data', onData);
  }

  /** Every log line so far, parsed. */
  logs(): LogRecord[] {
    return this.#records;
  }

  /** The log as written, for failure messages. */
  logText(lastLines = 200): string {
    return this.#raw.slice(-lastLines).join('\n');
  }

  exitStatus(): Exit | undefined {
    return this.#exit;
  }

  /** Resolves with the first log record (past or future) that matches. */
  waitForLog(matches: (record: LogRecord) => boolean, timeoutMs: number, what: string): Promise<LogRecord> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.#records.find(matches);
        if (found) {
          done();
          resolve(found);
        } else if (this.#exit) {
          done();
          reject(new Error(`${this.name} exited (${this.#exit.code ?? this.#exit.signal}) before logging ${what}:\n${this.logText(40)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not log ${what} within ${timeoutMs} ms:\n${this.logText(40)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  /** Resident memory from /proc: now, and the peak so far (VmHWM), in KiB. */
  memoryKiB(): { rss: number; peak: number } | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
      return { rss: field('VmRSS'), peak: field('VmHWM') };
    } catch {
      return undefined;
    }
  }

  /** CPU time used so far, in ms (user + system, from /proc). */
  cpuMs(): number | undefined {
    try {
      const fields = readFileSync(`/proc/${this.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      // utime and stime are fields 14 and 15 of stat; the split above starts at field 3.
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      return undefined;
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.#exit) this.#child.kill(signal);
  }

  /** SIGKILL unless already gone, and wait for the exit. */
  async kill(): Promise<Exit> {
    this.signal('SIGKILL');
    return this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<Exit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #addLine(line: string): void {
    if (line.trim() === '') return;
    this.#raw.push(line);
    if (process.env.OPERATOR_LOGS === '1') process.stderr.write(`[${this.name}] ${line}\n`);
    let record: LogRecord;
    try {
      const parsed: unknown = JSON.parse(line);
      record = typeof parsed === 'object' && parsed !== null ? (parsed as LogRecord) : { message: line };
    } catch {
      record = { message: line };
    }
    this.#records.push(record);
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** Starts the operator and waits until its probe and metrics servers listen (main.ts logs the ports it bound). */
export async function startOperatorProcess(options: OperatorProcessOptions): Promise<OperatorProcess> {
  const operator = new OperatorProcess(options);
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  try {
    const probes = await operator.waitForLog((r) => r.message === 'serving probes', timeoutMs, '"serving probes"');
    operator.healthUrl = `http://127.0.0.1:${Number(probes.port)}`;
    if (String(probes.paths).includes('/metrics')) {
      operator.metricsUrl = operator.healthUrl;
    } else {
      const metrics = await operator.waitForLog((r) => r.message === 'serving metrics', timeoutMs, '"serving metrics"');
      operator.metricsUrl = `http://127.0.0.1:${Number(metrics.port)}`;
    }
  } catch (error) {
    await operator.kill();
    throw error;
  }
  return operator;
}

/** SIGKILLs every operator process still running; for after hooks, so a failed test leaves nothing behind. */
export async function killAllOperatorProcesses(): Promise<void> {
  await Promise.all([...started].map((operator) => operator.kill()));
}

/** Log lines that say the API server refused a request: any of them means the RBAC is missing a permission. */
export function forbiddenLines(operator: OperatorProcess): string[] {
  return operator
    .logText(Number.MAX_SAFE_INTEGER)
    .split('\n')
    .filter((line) => /forbidden|\b403\b/i.test(line));
}
