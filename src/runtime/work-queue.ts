import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { ExponentialBackoffRateLimiter, type RateLimiter } from './rate-limiter.ts';

export interface WorkQueueOptions {
  name: string;
  clock?: Clock;
  rateLimiter?: RateLimiter;
}

interface Waiting {
  key: string;
  dueMs: number;
}

/**
 * A queue of keys (such as `namespace/name`) after client-go's rate-limited delaying workqueue.
 *
 * - A key waiting to be processed is not added twice.
 * - A key is handed to one worker at a time: if it is added while being processed it is
 *   marked dirty and queued again when the worker calls `done`.
 * - Ready keys come out in FIFO order.
 * - Delayed keys share one timer, set for the earliest deadline.
 * - After `shutDown`, `get` resolves `undefined` and adds are ignored; keys still queued are dropped.
 */
export class WorkQueue {
  readonly name: string;
  private readonly clock: Clock;
  private readonly rateLimiter: RateLimiter;

  /** Ready keys in order. Every key here is also in `dirty`. */
  private readonly ready: string[] = [];
  private readyHead = 0;
  /** Keys that need processing (queued, or to be re-queued once their worker is done). */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly getters: Array<(key: string | undefined) => void> = [];

  /** Current deadline per delayed key (monotonic ms); the heap may hold stale entries, skipped when popped. */
  private readonly waitingDue = new Map<string, number>();
  private readonly waitingHeap: Waiting[] = [];
  private timer: TimerHandle | undefined;
  private timerDueMs = Number.POSITIVE_INFINITY;

  private stopping = false;

  constructor(options: WorkQueueOptions) {
    this.name = options.name;
    this.clock = options.clock ?? systemClock;
    this.rateLimiter = options.rateLimiter ?? new ExponentialBackoffRateLimiter();
  }

  add(key: string): void {
    if (this.stopping || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.ready.push(key);
    this.dispatch();
  }

  /** Adds the key once `delayMs` has passed. If it is already waiting, the earlier deadline wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.stopping) return;
    if (!(delayMs > 0)) {
      this.add(key);
      return;
    }
    // Deadlines are on the monotonic clock: a step of the wall clock (NTP, an administrator) must
    // neither release every waiting key at once nor hold them all back.
    const dueMs = this.clock.monotonicNow() + delayMs;
    const current = this.waitingDue.get(key);
    if (current !== undefined && current <= dueMs) return;
    this.waitingDue.set(key, dueMs);
    heapPush(this.waitingHeap, { key, dueMs });
    this.armTimer();
  }

  /** Adds the key after the rate limiter's backoff for it (or `atLeastMs`, if longer), counting one more failure. */
  addRateLimited(key: string, atLeastMs = 0): void {
    if (this.stopping) return;
    this.addAfter(key, Math.max(this.rateLimiter.when(key), atLeastMs));
  }

  /** Resets the key's backoff. Does not remove the key from the queue. */
  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** Failures counted for the key since it was last forgotten. */
  numRequeues(key: string): number {
    return this.rateLimiter.retries(key);
  }

  /** Resolves with the next ready key, which the caller must pass to `done`; `undefined` once shut down. */
  get(): Promise<string | undefined> {
    if (this.stopping) return Promise.resolve(undefined);
    const key = this.take();
    if (key !== undefined) return Promise.resolve(key);
    return new Promise((resolve) => {
      this.getters.push(resolve);
    });
  }

  /** Marks the key as no longer processed; re-queues it if it was added meanwhile. */
  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.dirty.has(key) && !this.stopping) {
      this.ready.push(key);
      this.dispatch();
    }
  }

  /** Number of keys ready to be handed out. */
  len(): number {
    return this.ready.length - this.readyHead;
  }

  /** Number of keys waiting for a delay to pass. */
  waitingLen(): number {
    return this.waitingDue.size;
  }

  /** True while the key is handed to a worker and not yet `done`. */
  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  shutDown(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.disarmTimer();
    this.waitingDue.clear();
    this.waitingHeap.length = 0;
    for (const resolve of this.getters.splice(0)) resolve(undefined);
  }

  shuttingDown(): boolean {
    return this.stopping;
  }

  private take(): string | undefined {
    if (this.readyHead >= this.ready.length) return undefined;
    const key = this.ready[this.readyHead]!;
    this.readyHead++;
    // Compact occasionally instead of shift(), which is O(n) per call on large queues.
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready.splice(0, this.readyHead);
      this.readyHead = 0;
    }
    this.dirty.delete(key);
    this.processing.add(key);
    return key;
  }

  private dispatch(): void {
    while (this.getters.length > 0 && this.len() > 0) {
      const resolve = this.getters.shift()!;
      resolve(this.take());
    }
  }

  private armTimer(): void {
    const next = this.peekWaiting();
    if (!next) {
      this.disarmTimer();
      return;
    }
    if (this.timer !== undefined && this.timerDueMs <= next.dueMs) return;
    this.disarmTimer();
    this.timerDueMs = next.dueMs;
    this.timer = this.clock.setTimeout(() => this.onTimer(), next.dueMs - this.clock.monotonicNow());
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueMs = Number.POSITIVE_INFINITY;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerDueMs = Number.POSITIVE_INFINITY;
    const now = this.clock.monotonicNow();
    for (let next = this.peekWaiting(); next && next.dueMs <= now; next = this.peekWaiting()) {
      heapPop(this.waitingHeap);
      this.waitingDue.delete(next.key);
      this.add(next.key);
    }
    this.armTimer();
  }

  /** The earliest live waiting entry, dropping stale ones superseded by an earlier deadline. */
  private peekWaiting(): Waiting | undefined {
    for (let top = this.waitingHeap[0]; top; top = this.waitingHeap[0]) {
      if (this.waitingDue.get(top.key) === top.dueMs) return top;
      heapPop(this.waitingHeap);
    }
    return undefined;
  }
}

function heapPush(heap: Waiting[], item: Waiting): void {
  heap.push(item);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.dueMs <= item.dueMs) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = item;
}

function heapPop(heap: Waiting[]): Waiting | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const child = right < heap.length && heap[right]!.dueMs < heap[left]!.dueMs ? right : left;
    if (heap[child]!.dueMs >= last.dueMs) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
  return top;
}
