import { hostname } from 'node:os';
import type { EventsV1Event } from '@kubernetes/client-node';
import { V1MicroTime } from '../kube/client-node.ts';
import { type Logger, silentLogger } from '../observability/logger.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { apiStatus } from '../kube/errors.ts';

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about; any Kubernetes object fits. */
export interface EventRegarding {
  apiVersion?: string;
  kind?: string;
  metadata?: { namespace?: string; name?: string; uid?: string; resourceVersion?: string };
}

/** The subset of client-node's `EventsV1Api` the recorder uses; tests pass a recording fake. */
export interface EventsApi {
  createNamespacedEvent(param: { namespace: string; body: EventsV1Event }): Promise<EventsV1Event>;
  /** `body` is a JSON patch (client-node's default patch content type). */
  patchNamespacedEvent(param: { name: string; namespace: string; body: unknown }): Promise<EventsV1Event>;
}

export interface EventRecorderOptions {
  api: EventsApi;
  /** Names the component, such as `ecr.pullsecrets.io/operator`. */
  reportingController: string;
  /** Names this replica; defaults to the host name (the pod name in a cluster). */
  reportingInstance?: string;
  clock?: Clock;
  logger?: Logger;
  /** A repeat of the same event within this long of the previous one joins its series. */
  dedupeWindowMs?: number;
  /** At most one series update per Event in this interval; repeats in between are counted and written later. */
  seriesUpdateIntervalMs?: number;
  /** API calls in flight at once. */
  maxConcurrentWrites?: number;
  /** API calls waiting beyond which new ones are dropped (and logged), so a slow API server cannot grow memory without bound. */
  maxPendingWrites?: number;
}

interface Series {
  dedupeKey: string;
  namespace: string;
  eventName: string;
  /** Occurrences observed so far. */
  count: number;
  lastObservedMs: number;
  /** The count the API server holds. */
  writtenCount: number;
  lastWriteMs: number;
  created: boolean;
  writing: boolean;
  timer: TimerHandle | undefined;
}

const MAX_NOTE_BYTES = 1024;
const MAX_REASON_LENGTH = 128;
const MAX_SERIES = 10_000;

/**
 * Records events.k8s.io/v1 Events without blocking or failing the caller.
 *
 * Repeats of the same (object, type, reason, action, note) within the dedupe window do not
 * create new Events: they are counted into the first Event's `series`, which is patched at
 * most once per `seriesUpdateIntervalMs`, so a persistent failure costs one write per interval.
 */
export class EventRecorder {
  private readonly api: EventsApi;
  private readonly reportingController: string;
  private readonly reportingInstance: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly dedupeWindowMs: number;
  private readonly seriesUpdateIntervalMs: number;
  private readonly maxConcurrentWrites: number;
  private readonly maxPendingWrites: number;

  private readonly series = new Map<string, Series>();
  private readonly pending: Array<() => Promise<void>> = [];
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private lastPruneMs = 0;
  /** After close(), repeats are written at once rather than held behind a timer that would outlive the process's work. */
  private closed = false;
  private nameSequence = 0;

  constructor(options: EventRecorderOptions) {
    this.api = options.api;
    this.reportingController = options.reportingController;
    this.reportingInstance = options.reportingInstance ?? hostname();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger();
    this.dedupeWindowMs = options.dedupeWindowMs ?? 6 * 60_000;
    this.seriesUpdateIntervalMs = options.seriesUpdateIntervalMs ?? 30_000;
    this.maxConcurrentWrites = Math.max(1, options.maxConcurrentWrites ?? 4);
    this.maxPendingWrites = Math.max(1, options.maxPendingWrites ?? 1000);
  }

  /** Records an event. Never throws; API failures are logged. */
  event(regarding: EventRegarding, type: EventType, reason: string, action: string, note: string): void {
    try {
      this.record(regarding, type, reason, action, note);
    } catch (err) {
      this.logFailure('recording event failed', regarding, reason, err);
    }
  }

  /** Resolves once every API call started or queued so far has finished. Throttled series updates are not forced. */
  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
    });
  }

  /** Writes every series count not yet written, cancels throttle timers, and waits; for shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    for (const series of this.series.values()) {
      if (series.timer !== undefined) this.clock.clearTimeout(series.timer);
      series.timer = undefined;
      if (series.created && !series.writing && series.count > series.writtenCount) this.writeSeries(series);
    }
    await this.flush();
  }

  private record(regarding: EventRegarding, type: EventType, reason: string, action: string, note: string): void {
    const now = this.clock.now();
    this.prune(now);
    const meta = regarding.metadata ?? {};
    const identity = meta.uid ?? `${regarding.kind}/${meta.namespace ?? ''}/${meta.name ?? ''}`;
    const dedupeKey = [identity, type, reason, action, note].join('\u0000');

    const existing = this.series.get(dedupeKey);
    if (existing && now - existing.lastObservedMs < this.dedupeWindowMs) {
      existing.count++;
      existing.lastObservedMs = now;
      this.scheduleSeriesWrite(existing);
      return;
    }

    const namespace = meta.namespace || 'default';
    const series: Series = {
      dedupeKey,
      namespace,
      eventName: this.eventName(meta.name ?? 'event', now),
      count: 1,
      lastObservedMs: now,
      writtenCount: 0,
      lastWriteMs: now,
      created: false,
      writing: true,
      timer: undefined,
    };
    this.series.delete(dedupeKey);
    this.series.set(dedupeKey, series);

    const body: EventsV1Event = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: series.eventName, namespace },
      eventTime: new V1MicroTime(now),
      reportingController: this.reportingController,
      reportingInstance: this.reportingInstance,
      type,
      reason: reason.slice(0, MAX_REASON_LENGTH),
      action: action.slice(0, MAX_REASON_LENGTH),
      note: truncateBytes(note, MAX_NOTE_BYTES),
      regarding: {
        apiVersion: regarding.apiVersion,
        kind: regarding.kind,
        namespace: meta.namespace,
        name: meta.name,
        uid: meta.uid,
        resourceVersion: meta.resourceVersion,
      },
    };
    const submitted = this.submit(async () => {
      try {
        await this.api.createNamespacedEvent({ namespace, body });
        series.created = true;
        series.writtenCount = 1;
      } catch (err) {
        this.forgetSeries(series);
        this.logFailure('creating event failed', regarding, reason, err);
      } finally {
        series.writing = false;
        series.lastWriteMs = this.clock.now();
      }
      if (series.created) this.scheduleSeriesWrite(series);
    });
    if (!submitted) this.forgetSeries(series);
  }

  /** Writes the series count now, or when its throttle interval ends. */
  private scheduleSeriesWrite(series: Series): void {
    if (!series.created || series.writing || series.timer !== undefined) return;
    if (series.count <= series.writtenCount) return;
    const waitMs = series.lastWriteMs + this.seriesUpdateIntervalMs - this.clock.now();
    if (waitMs <= 0 || this.closed) {
      this.writeSeries(series);
      return;
    }
    series.timer = this.clock.setTimeout(() => {
      series.timer = undefined;
      this.writeSeries(series);
    }, waitMs);
  }

  private writeSeries(series: Series): void {
    if (series.count <= series.writtenCount) return;
    const count = series.count;
    const lastObservedMs = series.lastObservedMs;
    series.writing = true;
    const submitted = this.submit(async () => {
      let gone = false;
      try {
        await this.api.patchNamespacedEvent({
          name: series.eventName,
          namespace: series.namespace,
          body: [{ op: 'add', path: '/series', value: { count, lastObservedTime: new V1MicroTime(lastObservedMs) } }],
        });
        series.writtenCount = count;
      } catch (err) {
        // 404: the Event expired (the API server's event TTL); the next repeat creates a new one.
        gone = apiStatus(err) === 404;
        if (gone) this.forgetSeries(series);
        else this.logFailure('updating event series failed', { metadata: { namespace: series.namespace } }, '', err);
      } finally {
        series.writing = false;
        series.lastWriteMs = this.clock.now();
      }
      // Retry a failed write, or write repeats seen meanwhile, while the series is live. After close()
      // a write is not held back, so a failing one must not be retried at once, in a loop.
      const failed = series.writtenCount < count;
      if (!gone && !(this.closed && failed) && this.clock.now() - series.lastObservedMs < this.dedupeWindowMs) this.scheduleSeriesWrite(series);
    });
    if (!submitted) series.writing = false;
  }

  private forgetSeries(series: Series): void {
    if (series.timer !== undefined) this.clock.clearTimeout(series.timer);
    series.timer = undefined;
    if (this.series.get(series.dedupeKey) === series) this.series.delete(series.dedupeKey);
  }

  /** Drops series past their window, at most once a minute, and bounds the map's size. */
  private prune(now: number): void {
    if (now - this.lastPruneMs < 60_000 && this.series.size < MAX_SERIES) return;
    this.lastPruneMs = now;
    for (const series of this.series.values()) {
      const expired = now - series.lastObservedMs >= this.dedupeWindowMs;
      if (expired && !series.writing && series.timer === undefined) this.series.delete(series.dedupeKey);
    }
    // Still too many live series: drop the oldest (insertion order); they only lose deduplication.
    for (const series of this.series.values()) {
      if (this.series.size < MAX_SERIES) break;
      this.forgetSeries(series);
    }
  }

  /** `<object name>.<hex>` like client-go; unique within this process. */
  private eventName(objectName: string, nowMs: number): string {
    const suffix = (BigInt(nowMs) * 1_000_000n + BigInt(this.nameSequence++ % 1_000_000)).toString(16);
    return `${objectName.slice(0, 253 - suffix.length - 1)}.${suffix}`;
  }

  /** Queues an API call; false when the backlog is full and the call was dropped. */
  private submit(task: () => Promise<void>): boolean {
    if (this.pending.length >= this.maxPendingWrites) {
      this.logger.warn('event backlog full, dropping event write', { pending: this.pending.length });
      return false;
    }
    this.pending.push(task);
    this.pump();
    return true;
  }

  private pump(): void {
    while (this.active < this.maxConcurrentWrites && this.pending.length > 0) {
      const task = this.pending.shift()!;
      this.active++;
      task()
        .catch((err: unknown) => this.logFailure('event write failed', {}, '', err))
        .finally(() => {
          this.active--;
          this.pump();
          if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
        });
    }
  }

  private isIdle(): boolean {
    return this.active === 0 && this.pending.length === 0;
  }

  private logFailure(message: string, regarding: EventRegarding, reason: string, err: unknown): void {
    this.logger.warn(message, {
      kind: regarding.kind,
      namespace: regarding.metadata?.namespace,
      name: regarding.metadata?.name,
      reason: reason || undefined,
      error: err instanceof Error ? err.message : String(err),
      code: apiStatus(err),
    });
  }
}

/** Cuts `text` to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let result = '';
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > maxBytes) break;
    result += char;
    bytes += size;
  }
  return result;
}
