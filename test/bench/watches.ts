import type { OpenWatches } from './apiserver-metrics.ts';

/** What a quiet window says about watches: how many the operator holds, and how often they end and reopen. */
export interface WatchChurn {
  /** Open watches before the operator started (the apiserver's own loopback informers; the bench holds none then). */
  apiserverOwnOpen: OpenWatches;
  openAtStart: OpenWatches;
  openAtEnd: OpenWatches;
  /** Open watches the operator holds: the mean of both ends, less the apiserver's own, by resource. */
  operatorOpen: OpenWatches;
  operatorWatches: number;
  /** WATCH requests that ended in the window, by resource; each one ended is one re-open by a client that keeps watching. */
  ended: Record<string, number>;
  /** Ended on the resources the operator watches, the apiserver's own watches on them included. */
  endedOnOperatorResources: number;
  /**
   * Those less the apiserver's own share: its watches on resources the operator does not watch give its
   * rate per watch, applied to its watches on the resources both watch (one on secrets, one on namespaces).
   */
  operatorReopens: number;
  /** Ended on resources only the apiserver watches. */
  otherReopens: number;
  reopensPerWatchPer5Min: number;
}

export function watchChurn(apiserverOwnOpen: OpenWatches, openAtStart: OpenWatches, openAtEnd: OpenWatches, ended: Record<string, number>, seconds: number): WatchChurn {
  const operatorOpen: OpenWatches = {};
  for (const resource of new Set([...Object.keys(openAtStart), ...Object.keys(openAtEnd)])) {
    const mean = ((openAtStart[resource] ?? 0) + (openAtEnd[resource] ?? 0)) / 2;
    const own = Math.round(mean - (apiserverOwnOpen[resource] ?? 0));
    if (own > 0) operatorOpen[resource] = own;
  }
  let operatorReopens = 0;
  let otherReopens = 0;
  for (const [resource, count] of Object.entries(ended)) {
    if (operatorOpen[resource] !== undefined) operatorReopens += count;
    else otherReopens += count;
  }
  let ownOnShared = 0;
  let ownElsewhere = 0;
  for (const [resource, count] of Object.entries(apiserverOwnOpen)) {
    if (operatorOpen[resource] !== undefined) ownOnShared += count;
    else ownElsewhere += count;
  }
  const ownRate = ownElsewhere > 0 ? otherReopens / ownElsewhere : 0;
  const endedOnOperatorResources = operatorReopens;
  operatorReopens = Math.max(0, Math.round(endedOnOperatorResources - ownRate * ownOnShared));
  const operatorWatches = Object.values(operatorOpen).reduce((a, b) => a + b, 0);
  const rate = operatorWatches > 0 && seconds > 0 ? (operatorReopens / operatorWatches) * (300 / seconds) : Number.NaN;
  return {
    apiserverOwnOpen,
    openAtStart,
    openAtEnd,
    operatorOpen,
    operatorWatches,
    ended,
    endedOnOperatorResources,
    operatorReopens,
    otherReopens,
    reopensPerWatchPer5Min: Math.round(rate * 100) / 100,
  };
}
