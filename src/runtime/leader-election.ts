import type { V1Lease, V1LeaseSpec } from '@kubernetes/client-node';
import { V1MicroTime } from '../kube/client-node.ts';
import { parseKubeTime } from './kube-time.ts';
import { describeApiError, isConflict, isNotFound } from '../kube/errors.ts';
import { type Logger, silentLogger } from '../observability/logger.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';

/** The subset of client-node's `CoordinationV1Api` the elector uses; tests pass a fake. */
export interface LeaseApi {
  readNamespacedLease(param: { name: string; namespace: string }): Promise<V1Lease>;
  createNamespacedLease(param: { namespace: string; body: V1Lease }): Promise<V1Lease>;
  replaceNamespacedLease(param: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease>;
}

/** Why leading ended: the Lease could not be renewed (or was taken), or `stop()` was called. */
export type StoppedLeadingReason = 'lost' | 'stopped';

export interface LeaderCallbacks {
  /** This replica now leads; `signal` aborts when it stops leading. */
  onStartedLeading(signal: AbortSignal): void;
  onStoppedLeading(reason: StoppedLeadingReason): void;
  /** The Lease names a different holder than last seen (this replica included). */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectorOptions {
  api: LeaseApi;
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** Unique per replica: the pod name plus a random suffix, so a restarted pod is a new candidate. */
  identity: string;
  /** How long standbys wait after the last change they saw before taking the Lease; whole seconds. */
  leaseDurationMs: number;
  /** The leader gives up when it has not renewed for this long; shorter than the lease duration. */
  renewDeadlineMs: number;
  /** Between renewals, and between acquisition attempts (plus jitter). */
  retryPeriodMs: number;
  callbacks: LeaderCallbacks;
  /** Standbys wait retryPeriod × (1 + random × jitter) between attempts, so they don't move in step. */
  jitter?: number;
  /** On stop, hand the Lease back so a standby takes over at once (default true). */
  releaseOnStop?: boolean;
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
}

/** client-go's JitterFactor: the renew deadline must exceed the retry period by this factor. */
export const JITTER_FACTOR = 1.2;

/** The Lease fields that matter for election, in comparable form. */
interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/**
 * Leader election over a coordination.k8s.io/v1 Lease, after client-go's leaderelection package.
 *
 * A candidate takes the Lease when it is free (no holder, or released) or expired. Expiry is
 * measured on this replica's own clock: a Lease counts as expired once its record has not changed
 * for leaseDurationSeconds since this replica first saw it, so clock skew between nodes does not
 * matter. The leader renews every retryPeriod and stops leading when it has not renewed for
 * renewDeadline, before any standby (which waits a full lease duration after the last renewal it
 * saw) can take over. Every write carries the resourceVersion read, so two candidates racing for
 * the same Lease cannot both win.
 *
 * Every duration is measured on the monotonic clock: an NTP step of the wall clock must neither
 * stretch the leader's deadline nor shorten a standby's wait. The wall clock only stamps the
 * Lease's acquireTime and renewTime, which no replica uses for its own decisions.
 *
 * Like client-go, an elector leads at most once: after leading ends it stops, and the process is
 * expected to exit and start clean.
 */
export class LeaderElector {
  readonly identity: string;
  readonly #o: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  readonly #jitter: number;

  #observedRecord: LeaseRecord | undefined;
  /** Monotonic time at which `#observedRecord` was first seen. */
  #observedAtMs = 0;
  /** The Lease as last written by us, with its resourceVersion, for the release. */
  #ownLease: V1Lease | undefined;
  #reportedLeader: string | undefined;
  #leading = false;
  #leadingAbort: AbortController | undefined;
  #stopping = false;
  #loop: Promise<void> | undefined;
  #sleepTimer: TimerHandle | undefined;
  #wake: (() => void) | undefined;
  #lastAttemptOk = false;

  constructor(options: LeaderElectorOptions) {
    if (options.leaseDurationMs <= options.renewDeadlineMs) throw new Error('leaseDuration must be longer than renewDeadline');
    if (options.renewDeadlineMs <= JITTER_FACTOR * options.retryPeriodMs) throw new Error('renewDeadline must be longer than retryPeriod × 1.2');
    this.#o = options;
    this.identity = options.identity;
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger()).child({ lease: `${options.namespace}/${options.name}`, identity: options.identity });
    this.#random = options.random ?? Math.random;
    this.#jitter = options.jitter ?? 0.2;
  }

  /** Starts competing for the Lease. Resolves when leading has ended or `stop()` was called. */
  run(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#loop;
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder named by the Lease when last read, if any. */
  leader(): string | undefined {
    return this.#reportedLeader;
  }

  /** Whether the last read or write of the Lease succeeded: the apiserver is reachable and RBAC allows it. */
  lastAttemptSucceeded(): boolean {
    return this.#lastAttemptOk;
  }

  /**
   * Stops competing. A leader releases the Lease (unless `releaseOnStop` is false) and then gets
   * `onStoppedLeading('stopped')`. Call it after the work the Lease protects has stopped.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wakeUp();
    await (this.#loop ?? Promise.resolve());
  }

  async #run(): Promise<void> {
    this.#logger.info('competing for leadership');
    let acquiredAtMs = 0;
    while (!this.#stopping) {
      const sentAtMs = this.#clock.monotonicNow();
      if (await this.#tryAcquireOrRenew(sentAtMs + this.#o.renewDeadlineMs)) {
        acquiredAtMs = sentAtMs;
        break;
      }
      await this.#sleep(this.#o.retryPeriodMs * (1 + this.#random() * this.#jitter));
    }
    if (this.#stopping) {
      // An attempt that won just as stop() was called still leaves us holding the Lease.
      if (this.#holdsLease()) await this.#release();
      return;
    }

    this.#leading = true;
    this.#leadingAbort = new AbortController();
    this.#logger.info('started leading');
    this.#o.callbacks.onStartedLeading(this.#leadingAbort.signal);

    const reason = await this.#renewLoop(acquiredAtMs);
    this.#leading = false;
    this.#leadingAbort.abort(new Error(reason === 'lost' ? 'leader election lost' : 'leader election stopped'));
    // Only once our work has been told to stop: a standby takes a released Lease at its next attempt.
    if (reason === 'stopped' && (this.#o.releaseOnStop ?? true)) await this.#release();
    if (reason === 'stopped') this.#logger.info('stopped leading');
    this.#o.callbacks.onStoppedLeading(reason);
  }

  /**
   * Renews until the Lease is lost or `stop()` is called. `lastRenewMs` is when the last successful
   * attempt was SENT (monotonic): the apiserver cannot have stored that renewal earlier, and a
   * standby starts its lease-duration count no earlier than it was stored, so our deadline always
   * runs out first. No wait (sleep or request) reaches past the deadline.
   */
  async #renewLoop(lastRenewMs: number): Promise<StoppedLeadingReason> {
    for (;;) {
      const deadlineMs = lastRenewMs + this.#o.renewDeadlineMs;
      const waitMs = Math.min(this.#o.retryPeriodMs, deadlineMs - this.#clock.monotonicNow());
      if (waitMs > 0) await this.#sleep(waitMs);
      if (this.#stopping) return 'stopped';
      const sentAtMs = this.#clock.monotonicNow();
      if (sentAtMs >= deadlineMs) {
        this.#logger.error('stopped leading: the Lease could not be renewed within the renew deadline', { renewDeadlineMs: this.#o.renewDeadlineMs });
        return 'lost';
      }
      if (await this.#tryAcquireOrRenew(deadlineMs)) {
        lastRenewMs = sentAtMs;
      } else if (this.#observedRecord && this.#observedRecord.holderIdentity !== this.identity) {
        this.#logger.error('stopped leading: the Lease names another holder', { holder: this.#observedRecord.holderIdentity });
        return 'lost';
      }
    }
  }

  /** One round of client-go's tryAcquireOrRenew, given up at `deadlineMs` (monotonic); true when we hold the Lease afterwards. */
  async #tryAcquireOrRenew(deadlineMs: number): Promise<boolean> {
    const { api, namespace, name } = this.#o;
    const timeoutMs = () => deadlineMs - this.#clock.monotonicNow();
    let current: V1Lease;
    try {
      current = await this.#withTimeout(api.readNamespacedLease({ name, namespace }), timeoutMs());
    } catch (error) {
      if (!isNotFound(error)) return this.#failed('cannot read the Lease', error);
      const nowMs = this.#clock.now();
      const body: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: this.#ourSpec(nowMs, nowMs, 0),
      };
      try {
        const created = await this.#withTimeout(api.createNamespacedLease({ namespace, body }), timeoutMs());
        this.#observe(created);
        this.#ownLease = created;
        return this.#succeeded();
      } catch (createError) {
        return this.#failed('cannot create the Lease', createError);
      }
    }

    const record = recordOf(current.spec);
    this.#observe(current);
    const heldByOther = record.holderIdentity !== '' && record.holderIdentity !== this.identity;
    if (heldByOther && this.#observedAtMs + record.leaseDurationSeconds * 1000 > this.#clock.monotonicNow()) {
      // A standby that reads a valid Lease held by another is doing its job. One taking a free Lease
      // is not a standby until its write has answered (/readyz reports this).
      this.#lastAttemptOk = true;
      return false;
    }

    const nowMs = this.#clock.now();
    const renewing = record.holderIdentity === this.identity;
    const acquireMs = renewing ? (parseKubeTime(record.acquireTime) ?? nowMs) : nowMs;
    const transitions = renewing ? record.leaseTransitions : record.leaseTransitions + 1;
    // The body keeps metadata.resourceVersion from the read: a concurrent write makes this a 409.
    const body: V1Lease = { ...current, spec: { ...current.spec, ...this.#ourSpec(acquireMs, nowMs, transitions) } };
    try {
      const updated = await this.#withTimeout(api.replaceNamespacedLease({ name, namespace, body }), timeoutMs());
      this.#observe(updated);
      this.#ownLease = updated;
      if (!renewing) this.#logger.info('acquired the Lease', { previousHolder: record.holderIdentity || undefined, transitions });
      return this.#succeeded();
    } catch (error) {
      if (isConflict(error)) {
        this.#logger.debug('Lease changed under us; will read it again');
        this.#lastAttemptOk = true;
        return false;
      }
      return this.#failed(renewing ? 'cannot renew the Lease' : 'cannot take the Lease', error);
    }
  }

  /** Hands the Lease back: no holder, and a one-second duration so any standby takes it at its next try. */
  async #release(): Promise<void> {
    const own = this.#ownLease;
    if (!own) return;
    const nowMs = this.#clock.now();
    const spec = own.spec ?? {};
    const body: V1Lease = {
      ...own,
      spec: {
        ...spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTime: new V1MicroTime(nowMs),
        renewTime: new V1MicroTime(nowMs),
        leaseTransitions: spec.leaseTransitions ?? 0,
      },
    };
    try {
      await this.#withTimeout(
        this.#o.api.replaceNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace, body }),
        this.#o.renewDeadlineMs,
      );
      this.#ownLease = undefined;
      this.#logger.info('released the Lease');
    } catch (error) {
      // A conflict means someone else wrote the Lease already: it is not ours to release.
      this.#logger.warn('could not release the Lease; standbys will take it when it expires', { error: describeApiError(error) });
    }
  }

  #ourSpec(acquireMs: number, renewMs: number, transitions: number): V1LeaseSpec {
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
      acquireTime: new V1MicroTime(acquireMs),
      renewTime: new V1MicroTime(renewMs),
      leaseTransitions: transitions,
    };
  }

  /**
   * Remembers the Lease's record, restarting the expiry count whenever it changed. Called when the
   * answer has ARRIVED: the record was stored at the latest by then, so a standby's count can only
   * start late (it waits longer), never early.
   */
  #observe(lease: V1Lease): void {
    const record = recordOf(lease.spec);
    if (!this.#observedRecord || !sameRecord(record, this.#observedRecord)) {
      this.#observedRecord = record;
      this.#observedAtMs = this.#clock.monotonicNow();
    }
    const holder = record.holderIdentity;
    if (holder !== '' && holder !== this.#reportedLeader) {
      this.#reportedLeader = holder;
      this.#logger.info('new leader observed', { leader: holder });
      this.#o.callbacks.onNewLeader?.(holder);
    }
  }

  #holdsLease(): boolean {
    return this.#observedRecord?.holderIdentity === this.identity && this.#ownLease !== undefined;
  }

  #succeeded(): true {
    this.#lastAttemptOk = true;
    return true;
  }

  #failed(what: string, error: unknown): false {
    this.#lastAttemptOk = false;
    this.#logger.warn(what, { error: describeApiError(error) });
    return false;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#sleepTimer = this.#clock.setTimeout(() => this.#wakeUp(), ms);
    });
  }

  #wakeUp(): void {
    if (this.#sleepTimer !== undefined) this.#clock.clearTimeout(this.#sleepTimer);
    this.#sleepTimer = undefined;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** A hung request must not hold the renew loop past its deadline. */
  #withTimeout<T>(request: Promise<T>, ms: number): Promise<T> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => reject(new Error(`Lease request timed out after ${Math.round(ms)} ms`)), ms);
    });
    return Promise.race([request, timeout]).finally(() => this.#clock.clearTimeout(timer));
  }
}

/** client-node hands MicroTime fields back as the strings the API sent; accept Dates too. */
function timeText(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
  return typeof value === 'string' ? value : '';
}

function recordOf(spec: V1LeaseSpec | undefined): LeaseRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: timeText(spec?.acquireTime),
    renewTime: timeText(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}
