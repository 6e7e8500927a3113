import type { Condition } from '../api/meta.ts';
import { ConditionType } from './reasons.ts';

/**
 * Why a new token is worth a Normal Event, or undefined when it is not. A refresh on schedule, and the
 * first token of a new registry, change nothing a person watches for: `Refreshed=True`, `lastRefreshTime`
 * and the refresh metrics record them, and an Event each would double the writes of a large fleet (issue 15's
 * Event budget). A new token after a failed refresh (recovery), or after the spec changed, is news.
 */
export function refreshEventCause(conditions: readonly Condition[] | undefined, generation: number | undefined): string | undefined {
  const refreshed = conditions?.find((c) => c.type === ConditionType.Refreshed);
  if (!refreshed) return undefined;
  if (refreshed.status === 'False') return `after the last refresh failed (${refreshed.reason})`;
  if (generation !== undefined && refreshed.observedGeneration !== undefined && refreshed.observedGeneration < generation) return `after the spec changed (generation ${generation})`;
  return undefined;
}
