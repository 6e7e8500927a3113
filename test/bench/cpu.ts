import { readFileSync } from 'node:fs';

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds a process has used so far, from /proc/<pid>/stat, or undefined once it has gone. */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** CPU seconds several named processes used between start() and the returned function's call. */
export function cpuMeter(pids: Readonly<Record<string, number | undefined>>): () => Record<string, number> {
  const before = new Map<string, number>();
  for (const [name, pid] of Object.entries(pids)) {
    const seconds = pid === undefined ? undefined : cpuSeconds(pid);
    if (seconds !== undefined) before.set(name, seconds);
  }
  return () => {
    const used: Record<string, number> = {};
    for (const [name, start] of before) {
      const now = cpuSeconds(pids[name]!);
      if (now !== undefined) used[name] = Math.round((now - start) * 100) / 100;
    }
    return used;
  };
}
