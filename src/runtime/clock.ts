/** Opaque handle returned by `Clock.setTimeout`; only meaningful to the clock that made it. */
export type TimerHandle = unknown;

/**
 * Time source and timer scheduler. Everything time-dependent in the runtime takes one,
 * so tests can drive time with a fake instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch: for timestamps written into objects, never for measuring durations. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin, never stepped by NTP or an administrator: for durations
   * and deadlines that must hold (a Lease's expiry, the leader's renew deadline).
   */
  monotonicNow(): number;
  /** Runs `fn` once `ms` have passed on the monotonic clock. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicNow: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout> | undefined);
  },
};
