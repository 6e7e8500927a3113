/** Issue 15's RSS targets: ≤ 100 MiB up to 1,000 registries (or namespaces), ≤ 200 MiB at 10,000. */
export function rssTargetMiB(size: number): number {
  return size <= 1000 ? 100 : 200;
}

/** Issue 15's convergence target: at most this many times the bare client's time for the same writes. */
export const RATIO_TARGET = 1.5;
/** Issue 15's latency target, from create to a written pull secret, at the 99th percentile. */
export const LATENCY_P99_TARGET_MS = 500;
/** Issue 15's quiet-window target: a watch ends and reopens at most once per 5 minutes. */
export const REOPENS_PER_WATCH_PER_5MIN_TARGET = 1;

interface Breakdown {
  secretCreates?: number;
  secretUpdates?: number;
  statusPatches?: number;
  mainResourceWrites?: number;
  events?: number;
  other?: number;
  total?: number;
}

/** `2 = 1 Secret create + 1 status patch + …` (only the non-zero parts after the first two). */
export function describeBreakdown(b: Breakdown | undefined, mainName: string): string {
  if (!b) return 'not measured';
  const parts = [`${b.secretCreates} Secret creates`];
  if (b.secretUpdates) parts.push(`${b.secretUpdates} Secret updates`);
  parts.push(`${b.statusPatches} status patches`);
  parts.push(`${b.mainResourceWrites} ${mainName} patches`);
  parts.push(`${b.events} Events`);
  if (b.other) parts.push(`${b.other} other`);
  return `${b.total} = ${parts.join(' + ')}`;
}

/** The lines of a peers table as the peer scenario left it: text, rows of text, rows of cells, or rows of named cells. */
export function peerTableLines(table: unknown): string[] {
  if (typeof table === 'string') return table.split('\n');
  if (!Array.isArray(table)) return table === undefined ? [] : [JSON.stringify(table)];
  if (table.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
    const columns = [...new Set(table.flatMap((r) => Object.keys(r as object)))];
    const rows = [columns, ...table.map((r) => columns.map((c) => String((r as Record<string, unknown>)[c] ?? '')))];
    return alignColumns(rows);
  }
  if (table.every(Array.isArray)) return alignColumns((table as unknown[][]).map((r) => r.map(String)));
  return table.map(String);
}

function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ').trimEnd());
}

/** The short human summary of a bench report: each of issue 15's targets (and issue 6's and 11's that still apply) with its measured figure. */
export function summarize(report: Record<string, unknown>): string {
  const get = (path: string): unknown => path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), report);
  const num = (path: string): number | undefined => {
    const value = get(path);
    return typeof value === 'number' && !Number.isNaN(value) ? value : undefined;
  };
  const lines: string[] = ['Summary (targets from issues 15, 11 and 6):'];
  const row = (target: string, measured: string, ok: boolean | undefined | 'info', section?: string) => {
    if (section !== undefined && !get(section)) {
      lines.push(`  [ -- ] ${target.padEnd(48)} not run`);
      return;
    }
    const mark = ok === 'info' ? 'info' : ok === undefined ? ' ?  ' : ok ? ' ok ' : 'MISS';
    lines.push(`  [${mark}] ${target.padEnd(48)} ${measured}`);
  };
  const passes = (path: string) => fastestOfPasses(get(path));
  const atMost = (value: number | undefined, limit: number | undefined) => (value === undefined || limit === undefined ? undefined : value <= limit);
  const machine = get('machine') as { cores?: number; node?: string; totalMemoryMiB?: number } | undefined;
  lines.push(`  machine: ${machine?.cores} cores, ${machine?.totalMemoryMiB} MiB, Node ${machine?.node} (shared with other engineers' test runs)`);

  const registries = num('settings.registries');
  lines.push(get('convergence') ? `EcrRegistries: ${num('convergence.registries')} in ${num('convergence.namespaces')} namespaces, ${num('convergence.credentialSets')} credential sets:` : 'EcrRegistries: not run');
  const ratio = num('convergence.ratioToBare');
  row(
    `convergence ≤ ${RATIO_TARGET}× bare write time`,
    `${num('convergence.seconds')} s${passes('convergence.coldStartsSeconds')} (from spawn; ${num('convergence.secondsAfterReadyz')} s after /readyz) vs bare ${num('bare.seconds')} s${passes('bare.passesSeconds')} → ×${ratio} (×${num('convergence.ratioToBareAfterReadyz')} after /readyz)`,
    atMost(ratio, RATIO_TARGET),
    'bare',
  );
  const perRegistry = get('convergence.writesPerRegistry') as Breakdown | undefined;
  const bareWrites = num('bare.writesPerRegistry') ?? 2;
  row(`writes per registry ≤ bare's ${bareWrites}`, describeBreakdown(perRegistry, 'EcrRegistry'), atMost(perRegistry?.total, bareWrites), 'convergence');
  const reconciles = num('convergence.reconcilesPerRegistry');
  if (reconciles !== undefined) lines.push(`  reconciles per registry: ${reconciles} (${num('convergence.reconciles')} in all; 1 when the operator's own write echoes requeue nothing)`);
  const peak = num('convergence.memory.peakRssMiB');
  const rssTarget = registries === undefined ? undefined : rssTargetMiB(registries);
  row(
    `peak RSS ≤ ${rssTarget} MiB at ${registries} registries`,
    `peak ${peak} MiB, settled ${num('convergence.memory.lastRssMiB')} MiB, at /readyz ${num('convergence.memory.atReadyz.peakRssMiB')} MiB, heap ${num('convergence.memory.heapUsedMiB')}/${num('convergence.memory.heapTotalMiB')} MiB used/total (bare Node ${num('bareNodeFloor.hwmMiB')} MiB)`,
    atMost(peak, rssTarget),
    'convergence',
  );
  const gat = num('convergence.getAuthorizationTokenCalls');
  const sets = num('convergence.credentialSets');
  row('GetAuthorizationToken calls = credential sets', `${gat} calls for ${sets} credential sets`, gat === undefined ? undefined : gat === sets, 'convergence');
  const p99 = num('latency.p99Ms');
  const timedOut = num('latency.timedOut') ?? 0;
  row(
    `latency p99 ≤ ${LATENCY_P99_TARGET_MS} ms, create → pull secret`,
    `${num('latency.count')} creates one at a time over ${num('latency.fleetRegistries')} settled: p50 ${num('latency.p50Ms')} ms, p90 ${num('latency.p90Ms')} ms, p99 ${p99} ms, max ${num('latency.maxMs')} ms${timedOut ? `, ${timedOut} timed out` : ''}; token ${get('latency.tokenCached') ? 'cached' : 'fetched'} (${num('latency.getAuthorizationTokenCalls')} GetAuthorizationToken)`,
    p99 === undefined ? undefined : p99 <= LATENCY_P99_TARGET_MS && timedOut === 0,
    'latency',
  );
  quietRows(row, num, get, 'steady');
  const expired = num('rotation.expiredSamples');
  row(
    'no expired secret during a rotation wave',
    `${num('rotation.replaced')}/${num('rotation.secrets')} replaced over ${num('rotation.waveSeconds')} s; worst remaining ${num('rotation.worstRemainingSeconds')} s of ${num('rotation.lifetimeSeconds')} s; ${expired} expired samples`,
    expired === undefined ? undefined : expired === 0 && num('rotation.replaced') === num('rotation.secrets'),
    'rotation',
  );
  const refresh = get('rotation.perRefresh') as Breakdown | undefined;
  const secretWrites = refresh ? (refresh.secretCreates ?? 0) + (refresh.secretUpdates ?? 0) : undefined;
  const refreshes = `over ${num('rotation.refreshes')} refreshes`;
  row('Secret writes per refresh ≤ 1', `${secretWrites} ${refreshes} (${describeBreakdown(refresh, 'EcrRegistry')})`, atMost(secretWrites, 1), 'rotation');
  row('status patches per refresh ≤ 1', `${refresh?.statusPatches} ${refreshes}`, atMost(refresh?.statusPatches, 1), 'rotation');
  row('Events per refresh = 0 (only on change/failure)', `${refresh?.events} ${refreshes}`, refresh?.events === undefined ? undefined : refresh.events === 0, 'rotation');
  row(
    'Event budget: Events per refresh cycle at 1,000',
    `${num('rotation.eventBudget.eventWritesPerCycleAt1000')} Event writes per cycle (${num('rotation.writes.events')} in a window of ${num('rotation.refreshes')} refreshes of ${num('rotation.eventBudget.registries')} registries${get('rotation.eventBudget.measuredDirectly') ? '' : ', scaled to 1,000'})`,
    'info',
    'rotation',
  );
  if (get('imports')) {
    lines.push(
      `  imports: ${num('imports.imports')} × ${num('imports.tagsPerImport')} tags Ready in ${num('imports.secondsAfterLastCreate')} s after the last create; DescribeImages ${num('imports.describeImagesCalls')} (${num('imports.describeImagesPerImport')} per import); RSS peak ${num('imports.memory.peakRssMiB')} MiB, settled ${num('imports.memory.lastRssMiB')} MiB, heap ${num('imports.memory.heapUsedMiB')}/${num('imports.memory.heapTotalMiB')} MiB used/total`,
    );
  }
  if (get('fanout')) {
    const namespaces = num('fanout.namespaces');
    lines.push(`Fan-out: 1 ClusterEcrRegistry × ${namespaces} namespaces, own control plane:`);
    const fanoutRatio = num('fanout.convergence.ratioToBare');
    row(
      `convergence ≤ ${RATIO_TARGET}× bare write time`,
      `${num('fanout.convergence.seconds')} s (from spawn; ${num('fanout.convergence.secondsAfterReadyz')} s after /readyz) vs bare ${num('fanout.bare.seconds')} s${passes('fanout.bare.passesSeconds')} → ×${fanoutRatio} (×${num('fanout.convergence.ratioToBareAfterReadyz')} after /readyz; bare at concurrency ${num('fanout.bare.atReconcilerConcurrency.concurrency')}: ${num('fanout.bare.atReconcilerConcurrency.seconds')} s)`,
      atMost(fanoutRatio, RATIO_TARGET),
    );
    const perNamespace = get('fanout.convergence.writesPerNamespace') as Breakdown | undefined;
    // The ClusterEcrRegistry's own status and finalizer writes are a handful for all its namespaces, not per namespace.
    const perNamespaceOwn = perNamespace?.total === undefined ? undefined : perNamespace.total - (perNamespace.statusPatches ?? 0) - (perNamespace.mainResourceWrites ?? 0);
    row("writes per namespace ≤ bare's 1", `${describeBreakdown(perNamespace, 'ClusterEcrRegistry')} (the registry's own status and finalizer writes not counted against it)`, atMost(perNamespaceOwn, 1));
    const fanoutPeak = num('fanout.memory.convergencePeakRssMiB');
    const fanoutTarget = namespaces === undefined ? undefined : rssTargetMiB(namespaces);
    row(
      `peak RSS ≤ ${fanoutTarget} MiB at ${namespaces} namespaces`,
      `peak ${fanoutPeak} MiB (${num('fanout.memory.operatorPeakRssMiB')} MiB with the quiet window), anon ${num('fanout.convergence.memory.lastAnonMiB')} MiB, heap ${num('fanout.convergence.memory.heapUsedMiB')}/${num('fanout.convergence.memory.heapTotalMiB')} MiB used/total; EcrRegistries: peak ${num('fanout.memory.ecrRegistriesPeakRssMiB') ?? '(not run)'} MiB`,
      atMost(fanoutPeak, fanoutTarget),
    );
    const fanoutGat = num('fanout.convergence.getAuthorizationTokenCalls');
    row('1 GetAuthorizationToken', `${fanoutGat} calls; ${num('fanout.convergence.pullSecrets')} pull secrets, ${num('fanout.convergence.distinctPullSecretPayloads')} distinct payload(s)`, fanoutGat === undefined ? undefined : fanoutGat === 1);
    quietRows(row, num, get, 'fanout.steady');
  }
  const peers = get('peers');
  if (peers) {
    lines.push('Peers side by side (same workload, each on a fresh control plane):');
    const table = peerTableLines((peers as Record<string, unknown>).table);
    if (table.length) for (const line of table) lines.push(`  ${line}`);
    else lines.push(`  no table: ${JSON.stringify(peers).slice(0, 300)}`);
  }
  if (get('failure')) lines.push(`  FAILED: ${String(get('failure')).split('\n')[0]}`);
  return lines.join('\n');
}

type Row = (target: string, measured: string, ok: boolean | undefined | 'info', section?: string) => void;

/** A quiet window's rows: no writes, and watches that last. */
function quietRows(row: Row, num: (path: string) => number | undefined, get: (path: string) => unknown, section: string): void {
  const seconds = num(`${section}.seconds`);
  const writes = num(`${section}.apiserverRequests.objectWrites`);
  const events = num(`${section}.apiserverRequests.eventWrites`);
  row(
    `0 writes in a quiet ${seconds === 60 ? 'minute' : 'window'}`,
    `${writes} object writes, ${events} Event writes, ${num(`${section}.apiserverRequests.apiserverOwnWrites`)} lease/endpoints writes (apiserver's own) in ${seconds} s`,
    writes === undefined ? undefined : writes === 0 && events === 0,
    section,
  );
  const rate = num(`${section}.watches.reopensPerWatchPer5Min`);
  const open = get(`${section}.watches.operatorOpen`) as Record<string, number> | undefined;
  const allEnded = get(`${section}.watches.ended`) as Record<string, number> | undefined;
  const ended = allEnded && open ? Object.fromEntries(Object.entries(allEnded).filter(([resource]) => open[resource] !== undefined)) : allEnded;
  const sinceStart = num(`${section}.watches.windowEndSecondsAfterOperatorStart`);
  // Watches opened together at start with 5-10 min timeouts (client-go's) fall due together: a window closing
  // before 5 min sees only early ends, and a short one between 5 and 10 min samples their first round unevenly.
  const early = sinceStart !== undefined && sinceStart < 300;
  const uneven = sinceStart !== undefined && !early && seconds !== undefined && seconds < 600;
  const caveat = early
    ? `; the window closed ${sinceStart} s after the operator started, before a 5-min watch timeout falls due, so it shows only early ends (BENCH_QUIET_SECONDS=600 sees a full cycle)`
    : uneven
      ? `; not judged: the window closed ${sinceStart} s after start, while the watches opened together at start fall due together, and ${seconds} s samples that unevenly (BENCH_QUIET_SECONDS=600 sees a full cycle)`
      : '';
  const list = (r: Record<string, number> | undefined) => (r && Object.keys(r).length ? Object.entries(r).map(([k, v]) => `${k} ${v}`).join(', ') : 'none');
  row(
    `watch re-opens ≤ ${REOPENS_PER_WATCH_PER_5MIN_TARGET} per watch per 5 min`,
    `${rate} (${num(`${section}.watches.operatorReopens`)} ended in ${seconds} s over ${num(`${section}.watches.operatorWatches`)} operator watches: open ${list(open)}; ended on those resources ${list(ended)}, less the apiserver's own share, estimated from the ${num(`${section}.watches.otherReopens`)} ended on resources only it watches)${caveat}`,
    rate === undefined || uneven ? undefined : rate <= REOPENS_PER_WATCH_PER_5MIN_TARGET,
    section,
  );
}

/**
 * ' (fastest of a, b, c)' for the times in seconds of a bare loop's passes or of the operator's cold
 * starts, or nothing for a single one (and for reports from before either was repeated, which have no list).
 */
export function fastestOfPasses(passesSeconds: unknown): string {
  return Array.isArray(passesSeconds) && passesSeconds.length > 1 ? ` (fastest of ${passesSeconds.join(', ')})` : '';
}
