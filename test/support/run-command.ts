import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** What a finished command said: its exit code (1 when killed by a signal) and its output. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunCommandOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Written to its stdin, which is then closed (stdin is empty otherwise). */
  input?: string;
  /** SIGKILL after this long, noted at the end of stderr (default 2 minutes). */
  timeoutMs?: number;
}

/**
 * Runs a test-world tool (kubectl, helm, promtool, crane, tar, a build script) and collects its
 * output. A non-zero exit is returned, not thrown; only a command that cannot start throws.
 */
export function runCommand(command: string, args: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
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
    child.stdin.end(options.input ?? '');
  });
}

/** runCommand, failing with the command's stderr unless it exits 0. */
export async function runCommandOk(command: string, args: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.code}: ${result.stderr.trim()}`);
  return result;
}

/**
 * The path a test/controlplane build script prints as its last stdout line: the cached tool (or
 * folder), built first when missing (a cold build takes minutes). On failure, the script's own
 * `controlplane: error:` line.
 */
export async function locateBuiltTool(script: string, access: number = fs.constants.X_OK): Promise<string> {
  const { code, stdout, stderr } = await runCommand('bash', [script], { timeoutMs: 30 * 60_000 });
  if (code !== 0) {
    const reason = stderr.trimEnd().split('\n').find((line) => line.startsWith('controlplane: error:')) ?? stderr.trim();
    throw new Error(`${script} failed: ${reason}`);
  }
  const found = stdout.trimEnd().split('\n').at(-1) ?? '';
  fs.accessSync(found, access);
  return found;
}
