/** The short human summary of a bench report: each of issue 6's and issue 11's targets with its measured figure. */
export function summarize(report: Record<string, unknown>): string {
  const get = (path: string): unknown => path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), report);
  const num = (path: string): number | undefined => {
    const value = get(path);
    return typeof value === 'number' && !Number.isNaN(value) ? value : undefined;
  };
  const lines: string[] = ['Summary (targets from issue 6):'];
  const row = (target: string, measured: string, ok: boolean | undefined, section?: string) => {
    if (section !== undefined && !get(section)) {
      lines.push(`  [ -- ] ${target.padEnd(44)} not run`);
      return;
    }
    lines.push(`  [${ok === undefined ? ' ?  ' : ok ? ' ok ' : 'MISS'}] ${target.padEnd(44)} ${measured}`);
  };
  const machine = get('machine') as { cores?: number; node?: string; totalMemoryMiB?: number } | undefined;
  lines.push(`  machine: ${machine?.cores} cores, ${machine?.totalMemoryMiB} MiB, Node ${machine?.node} (shared with other engineers' test runs)`);

  const ratio = num('convergence.ratioToBare');
  row(
    'convergence ≤ 1.5× bare write time',
    `${num('convergence.seconds')} s (from spawn; ${num('convergence.secondsAfterReadyz')} s after /readyz) vs bare ${num('bare.seconds')} s → ×${ratio} (×${num('convergence.ratioToBareAfterReadyz')} after /readyz)`,
    ratio === undefined ? undefined : ratio <= 1.5,
    'bare',
  );
  const gat = num('convergence.getAuthorizationTokenCalls');
  const sets = num('convergence.credentialSets');
  row('GetAuthorizationToken calls = credential sets', `${gat} calls for ${sets} credential sets`, gat === undefined ? undefined : gat === sets, 'convergence');
  const steadyWrites = num('steady.apiserverRequests.objectWrites');
  row(
    '0 writes in a quiet minute',
    `${steadyWrites} object writes, ${num('steady.apiserverRequests.eventWrites')} event writes, ${num('steady.apiserverRequests.apiserverOwnWrites')} lease/endpoints writes (apiserver's own) in ${num('steady.seconds')} s`,
    steadyWrites === undefined ? undefined : steadyWrites === 0,
    'steady',
  );
  const expired = num('rotation.expiredSamples');
  row(
    'no expired secret during a rotation wave',
    `${num('rotation.replaced')}/${num('rotation.secrets')} replaced over ${num('rotation.waveSeconds')} s; worst remaining ${num('rotation.worstRemainingSeconds')} s of ${num('rotation.lifetimeSeconds')} s; ${expired} expired samples`,
    expired === undefined ? undefined : expired === 0 && num('rotation.replaced') === num('rotation.secrets'),
    'rotation',
  );
  const peak = num('convergence.memory.peakRssMiB');
  row(
    `RSS ≤ 100 MiB at ${num('settings.registries')} registries`,
    `peak ${peak} MiB, settled ${num('convergence.memory.lastRssMiB')} MiB, at /readyz ${num('convergence.memory.atReadyz.peakRssMiB')} MiB, heap ${num('convergence.memory.heapUsedMiB')}/${num('convergence.memory.heapTotalMiB')} MiB used/total (bare Node ${num('bareNodeFloor.hwmMiB')} MiB)`,
    peak === undefined ? undefined : peak <= 100,
    'convergence',
  );
  if (get('imports')) {
    lines.push(
      `  imports: ${num('imports.imports')} × ${num('imports.tagsPerImport')} tags Ready in ${num('imports.secondsAfterLastCreate')} s after the last create; DescribeImages ${num('imports.describeImagesCalls')} (${num('imports.describeImagesPerImport')} per import); RSS peak ${num('imports.memory.peakRssMiB')} MiB, settled ${num('imports.memory.lastRssMiB')} MiB, heap ${num('imports.memory.heapUsedMiB')}/${num('imports.memory.heapTotalMiB')} MiB used/total`,
    );
  }
  if (get('fanout')) {
    lines.push(`Fan-out (issue 11): 1 ClusterEcrRegistry × ${num('fanout.namespaces')} namespaces, own control plane:`);
    const fanoutRatio = num('fanout.convergence.ratioToBare');
    row(
      'convergence ≤ 1.5× bare write time',
      `${num('fanout.convergence.seconds')} s (from spawn; ${num('fanout.convergence.secondsAfterReadyz')} s after /readyz) vs bare ${num('fanout.bare.seconds')} s → ×${fanoutRatio} (×${num('fanout.convergence.ratioToBareAfterReadyz')} after /readyz; bare at concurrency ${num('fanout.bare.atReconcilerConcurrency.concurrency')}: ${num('fanout.bare.atReconcilerConcurrency.seconds')} s)`,
      fanoutRatio === undefined ? undefined : fanoutRatio <= 1.5,
    );
    const fanoutGat = num('fanout.convergence.getAuthorizationTokenCalls');
    row('1 GetAuthorizationToken', `${fanoutGat} calls; ${num('fanout.convergence.pullSecrets')} pull secrets, ${num('fanout.convergence.distinctPullSecretPayloads')} distinct payload(s)`, fanoutGat === undefined ? undefined : fanoutGat === 1);
    const fanoutQuiet = num('fanout.steady.apiserverRequests.objectWrites');
    row(
      '0 writes in a quiet minute',
      `${fanoutQuiet} object writes, ${num('fanout.steady.apiserverRequests.eventWrites')} event writes in ${num('fanout.steady.seconds')} s`,
      fanoutQuiet === undefined ? undefined : fanoutQuiet === 0,
    );
    lines.push(`  writes per namespace during convergence: ${num('fanout.convergence.objectWritesPerNamespace')} (${num('fanout.convergence.apiserverRequests.objectWrites')} object writes)`);
    const fanoutPeak = num('fanout.memory.convergencePeakRssMiB');
    const registriesPeak = num('fanout.memory.ecrRegistriesPeakRssMiB');
    row(
      `RSS ≤ RSS at ${num('fanout.memory.ecrRegistries') ?? 'N'} EcrRegistries`,
      `peak ${fanoutPeak} MiB (${num('fanout.memory.operatorPeakRssMiB')} MiB with the quiet window), anon ${num('fanout.convergence.memory.lastAnonMiB')} MiB, heap ${num('fanout.convergence.memory.heapUsedMiB')}/${num('fanout.convergence.memory.heapTotalMiB')} MiB used/total; EcrRegistries: peak ${registriesPeak ?? '(not run)'} MiB, anon ${num('convergence.memory.lastAnonMiB')} MiB, heap ${num('convergence.memory.heapUsedMiB')}/${num('convergence.memory.heapTotalMiB')} MiB`,
      fanoutPeak === undefined || registriesPeak === undefined ? undefined : fanoutPeak <= registriesPeak,
    );
  }
  if (get('failure')) lines.push(`  FAILED: ${String(get('failure')).split('\n')[0]}`);
  return lines.join('\n');
}
