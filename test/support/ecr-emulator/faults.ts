/**
 * Injected faults. A fault is scoped by action and/or access key and lasts for the next `times`
 * matching calls, or until cleared. Faults apply after authentication, so an access key scope
 * always refers to a caller whose signature checked out.
 */

export type FaultKind =
  /** ThrottlingException, HTTP 400 (STS: Throttling; registry v2: 429 TOOMANYREQUESTS). */
  | 'throttle'
  /** ServerException, HTTP 500 (STS: InternalFailure; registry v2: 500). */
  | 'serverError'
  /** AccessDeniedException (STS: AccessDenied; registry v2: 403 DENIED). */
  | 'accessDenied'
  /** Waits `latencyMs` before answering; combines with other faults. */
  | 'latency'
  /** Destroys the connection without a response: the client sees ECONNRESET / socket hang up. */
  | 'connectionReset';

/**
 * Faults that alter a registry v2 answer rather than replace it, as a broken proxy or registry
 * would; they apply to `RegistryV2` actions only (other calls are not hit, nor counted).
 * - `wrongDigest`: a 200 answer's body with one byte changed, so it no longer matches its digest.
 * - `truncatedJson`: a 200 answer's body cut in half (Content-Length says the cut length).
 * - `redirectLoop`: 307 back to the very same URL, every time.
 */
export type RegistryTamperKind = 'wrongDigest' | 'truncatedJson' | 'redirectLoop';
const TAMPER_KINDS: readonly string[] = ['wrongDigest', 'truncatedJson', 'redirectLoop'];

function isTamper(kind: FaultKind | RegistryTamperKind): kind is RegistryTamperKind {
  return TAMPER_KINDS.includes(kind);
}

export interface FaultSpec {
  kind: FaultKind | RegistryTamperKind;
  /**
   * Action the fault applies to: an ECR action (`GetAuthorizationToken`), `AssumeRole`,
   * `AssumeRoleWithWebIdentity`, `PodIdentityCredentials`, or a registry v2 action (`RegistryV2.Manifest`, ...). A name also matches its dotted children, so `RegistryV2`
   * covers every registry request. Omitted: every action.
   */
  action?: string;
  /**
   * Only calls signed with this access key (registry v2: tokens issued to it). Omitted: every caller.
   * AssumeRoleWithWebIdentity and Pod Identity calls carry no access key, so a fault scoped by key never hits them.
   */
  accessKeyId?: string;
  /** Applies to the next `times` matching calls, then clears itself. Omitted: until cleared. */
  times?: number;
  /** For `latency`: how long to wait. */
  latencyMs?: number;
  /** Overrides the error message. */
  message?: string;
}

export interface FaultHandle {
  readonly id: number;
  /** How many calls the fault has hit so far. */
  readonly hits: number;
  /** Matching calls left before it clears itself; undefined when it lasts until cleared. */
  readonly remaining: number | undefined;
  readonly active: boolean;
  clear(): void;
}

/** Action names match themselves and their dotted children (`RegistryV2` matches `RegistryV2.Blob`). */
export function actionMatches(filter: string | undefined, action: string): boolean {
  return filter === undefined || filter === action || action.startsWith(`${filter}.`);
}

interface ActiveFault {
  id: number;
  spec: FaultSpec;
  remaining: number | undefined;
  hits: number;
}

/** What the server must do for one call. */
export interface FaultOutcome {
  latencyMs: number;
  /** The first matching non-latency fault, if any. */
  failure?: { kind: Exclude<FaultKind, 'latency'>; message?: string };
  /** The first matching registry v2 tampering, if any (registry v2 actions only). */
  tamper?: RegistryTamperKind;
}

export class FaultInjector {
  private nextId = 1;
  private readonly faults = new Map<number, ActiveFault>();

  add(spec: FaultSpec): FaultHandle {
    if (spec.times !== undefined && (!Number.isInteger(spec.times) || spec.times < 1)) {
      throw new Error(`fault times must be a positive integer, got ${spec.times}`);
    }
    if (spec.kind === 'latency' && !(typeof spec.latencyMs === 'number' && spec.latencyMs >= 0)) {
      throw new Error('a latency fault needs latencyMs >= 0');
    }
    const fault: ActiveFault = { id: this.nextId++, spec: { ...spec }, remaining: spec.times, hits: 0 };
    this.faults.set(fault.id, fault);
    const faults = this.faults;
    return {
      id: fault.id,
      get hits() {
        return fault.hits;
      },
      get remaining() {
        return fault.remaining;
      },
      get active() {
        return faults.has(fault.id);
      },
      clear: () => {
        faults.delete(fault.id);
      },
    };
  }

  clear(): void {
    this.faults.clear();
  }

  /**
   * Picks the faults for one call and uses up their counts: every matching latency fault adds its
   * delay; the oldest matching failure fault, if any, decides the answer.
   */
  take(action: string, accessKeyId: string | undefined): FaultOutcome {
    const outcome: FaultOutcome = { latencyMs: 0 };
    for (const fault of this.faults.values()) {
      const { spec } = fault;
      if (!actionMatches(spec.action, action)) continue;
      if (spec.accessKeyId !== undefined && spec.accessKeyId !== accessKeyId) continue;
      if (spec.kind === 'latency') {
        outcome.latencyMs += spec.latencyMs ?? 0;
      } else if (isTamper(spec.kind)) {
        if (outcome.tamper || !actionMatches('RegistryV2', action)) continue;
        outcome.tamper = spec.kind;
      } else if (outcome.failure) {
        continue;
      } else {
        outcome.failure = { kind: spec.kind, ...(spec.message !== undefined ? { message: spec.message } : {}) };
      }
      this.consume(fault);
    }
    return outcome;
  }

  private consume(fault: ActiveFault): void {
    fault.hits += 1;
    if (fault.remaining === undefined) return;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.delete(fault.id);
  }
}
