import type { Clock, TimerHandle } from '../../src/runtime/clock.ts';

interface FakeTimer {
  id: number;
  dueMs: number;
  fn: () => void;
}

/**
 * A clock that only moves when the test says so. Timers fire in due order (ties in the
 * order they were scheduled), including timers that fired callbacks schedule inside the window.
 *
 * Like a real host it keeps two clocks: the wall clock (`now()`) and the monotonic one
 * (`monotonicNow()`, which timers follow). `advance` moves both; `stepWallClock` moves only the
 * wall clock, as an NTP step does.
 */
export class FakeClock implements Clock {
  private nowMs: number;
  /** The monotonic clock starts at 0 and only moves forward. */
  private monotonicMs = 0;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(startEpochMs: number = Date.UTC(2025, 0, 1)) {
    this.nowMs = startEpochMs;
  }

  now(): number {
    return this.nowMs;
  }

  monotonicNow(): number {
    return this.monotonicMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { id, dueMs: this.monotonicMs + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.monotonicMs + Math.max(0, ms);
    for (let timer = this.nextDue(target); timer; timer = this.nextDue(target)) {
      this.timers.delete(timer.id);
      this.moveTo(timer.dueMs);
      timer.fn();
    }
    this.moveTo(target);
  }

  /** Jumps to `epochMs`: forward behaves like `advance`; backward only changes `now()`. */
  set(epochMs: number): void {
    if (epochMs >= this.nowMs) this.advance(epochMs - this.nowMs);
    else this.nowMs = epochMs;
  }

  /** Steps the wall clock by `deltaMs` (either way), as NTP does: the monotonic clock and timers do not move. */
  stepWallClock(deltaMs: number): void {
    this.nowMs += deltaMs;
  }

  /**
   * Like `advance`, but lets promise chains settle after each timer, so async work a timer
   * starts (a reconcile, a relist) can schedule its own timers within the same window.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.monotonicMs + Math.max(0, ms);
    await settle();
    for (let timer = this.nextDue(target); timer; timer = this.nextDue(target)) {
      this.timers.delete(timer.id);
      this.moveTo(timer.dueMs);
      timer.fn();
      await settle();
    }
    this.moveTo(target);
    await settle();
  }

  /** Number of timers not yet fired or cleared. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /** Milliseconds until the earliest pending timer, or undefined when none is pending. */
  nextTimerInMs(): number | undefined {
    const next = this.nextDue(Number.POSITIVE_INFINITY);
    return next ? next.dueMs - this.monotonicMs : undefined;
  }

  /** Moves both clocks to the monotonic instant `monotonicMs`. */
  private moveTo(monotonicMs: number): void {
    this.nowMs += monotonicMs - this.monotonicMs;
    this.monotonicMs = monotonicMs;
  }

  private nextDue(limitMs: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.dueMs > limitMs) continue;
      if (!best || timer.dueMs < best.dueMs || (timer.dueMs === best.dueMs && timer.id < best.id)) best = timer;
    }
    return best;
  }
}

/** Lets pending promise callbacks run: a few macrotask turns, no real time passes. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
