/** Opaque handle returned by `Clock.setTimeout`; only meaningful to the clock that made it. */
export type TimerHandle = unknown;

/**
 * Time source and timer scheduler. Everything time-dependent in the runtime takes one,
 * so tests can drive time with a fake instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout> | undefined);
  },
};
