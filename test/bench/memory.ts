import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface MemorySample {
  atMs: number;
  rssBytes: number;
  hwmBytes: number;
  /** The anonymous part of RSS (heap, malloc, stacks): what the process allocated, as opposed to mapped files such as the node binary. */
  anonBytes: number;
}

/** VmRSS, VmHWM and RssAnon of a process from /proc/<pid>/status, or undefined once it has gone. */
export function readProcessMemory(pid: number): { rssBytes: number; hwmBytes: number; anonBytes: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rssBytes: kib('VmRSS'), hwmBytes: kib('VmHWM'), anonBytes: kib('RssAnon') };
}

/** Samples a process's memory every `intervalMs` (250 ms) so phases can ask for their peak and their settled figure. */
export class MemorySampler {
  readonly samples: MemorySample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(pid: number, intervalMs = 250) {
    const take = () => {
      const memory = readProcessMemory(pid);
      if (memory) this.samples.push({ atMs: Date.now(), ...memory });
    };
    take();
    this.timer = setInterval(take, intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Peak RSS between two times, and the RSS at the end of the window (the settled figure). */
  window(fromMs: number, toMs: number): { peakRssMiB: number; lastRssMiB: number; lastAnonMiB: number; hwmMiB: number; samples: number } | undefined {
    const inside = this.samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
    if (inside.length === 0) return undefined;
    const last = inside[inside.length - 1]!;
    return {
      peakRssMiB: mib(Math.max(...inside.map((s) => s.rssBytes))),
      lastRssMiB: mib(last.rssBytes),
      lastAnonMiB: mib(last.anonBytes),
      hwmMiB: mib(last.hwmBytes),
      samples: inside.length,
    };
  }

  /** RSS and its anonymous part about every `stepMs` between two times, as [seconds after fromMs, RSS MiB, anon MiB]: where memory grows. */
  trace(fromMs: number, toMs: number, stepMs = 1000): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = [];
    let nextMs = fromMs;
    for (const s of this.samples) {
      if (s.atMs < nextMs || s.atMs > toMs) continue;
      out.push([Math.round((s.atMs - fromMs) / 100) / 10, mib(s.rssBytes), mib(s.anonBytes)]);
      nextMs = s.atMs + stepMs;
    }
    return out;
  }
}

export function mib(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

/** RSS of a Node that does nothing for 3 s: the floor under any Node process on this machine. */
export async function bareNodeFloor(nodePath: string): Promise<{ rssMiB: number; hwmMiB: number }> {
  const child = spawn(nodePath, ['-e', 'setTimeout(()=>{}, 3000)'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await sleep(2500);
  const memory = child.pid !== undefined ? readProcessMemory(child.pid) : undefined;
  await exited;
  if (!memory) throw new Error('the bare Node process exited before it could be measured');
  return { rssMiB: mib(memory.rssBytes), hwmMiB: mib(memory.hwmBytes) };
}

/** A gauge's value from a Prometheus text page, e.g. nodejs_heap_size_used_bytes. */
export function gaugeValue(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The sum of a metric's series whose labels include every `label="value"` given (e.g. reconciles of one controller). */
export function seriesSum(text: string, name: string, labels: readonly string[] = []): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const close = line.lastIndexOf('}');
    const labelText = close < 0 ? '' : line.slice(name.length + 1, close);
    if (labels.every((label) => labelText.split(',').includes(label))) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}

/** The operator's own V8 figures from its /metrics page, in MiB. */
export function heapFigures(metricsText: string | undefined): { heapUsedMiB?: number; heapTotalMiB?: number; externalMiB?: number } {
  if (!metricsText) return {};
  const figure = (name: string) => {
    const value = gaugeValue(metricsText, name);
    return value === undefined ? {} : { [name]: mib(value) };
  };
  const found = { ...figure('nodejs_heap_size_used_bytes'), ...figure('nodejs_heap_size_total_bytes'), ...figure('nodejs_external_memory_bytes') };
  return {
    ...(found.nodejs_heap_size_used_bytes !== undefined ? { heapUsedMiB: found.nodejs_heap_size_used_bytes } : {}),
    ...(found.nodejs_heap_size_total_bytes !== undefined ? { heapTotalMiB: found.nodejs_heap_size_total_bytes } : {}),
    ...(found.nodejs_external_memory_bytes !== undefined ? { externalMiB: found.nodejs_external_memory_bytes } : {}),
  };
}
