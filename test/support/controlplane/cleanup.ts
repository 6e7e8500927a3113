import fs from 'node:fs';

/**
 * Last-resort cleanup for runs that end without calling stop(): an uncaught error, `exit: true`,
 * Ctrl-C or a CI timeout's SIGTERM. It kills only the pids the harness started and removes only
 * the folders it created.
 */
const livePids = new Set<number>();
const tempDirs = new Set<string>();
let installed = false;

const forwardedSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export function trackPid(pid: number): void {
  install();
  livePids.add(pid);
}

export function untrackPid(pid: number): void {
  livePids.delete(pid);
}

export function trackTempDir(dir: string): void {
  install();
  tempDirs.add(dir);
}

export function untrackTempDir(dir: string): void {
  tempDirs.delete(dir);
}

/** Synchronous on purpose: 'exit' listeners cannot wait for anything. */
function cleanUpNow(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  livePids.clear();
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  cleanUpNow();
  for (const s of forwardedSignals) process.off(s, onSignal);
  // Keep the default outcome (death by this signal) unless someone else, such as mocha, handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', cleanUpNow);
  for (const signal of forwardedSignals) process.on(signal, onSignal);
}
