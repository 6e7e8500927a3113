import { actionMatches } from './faults.ts';

export interface CallFilter {
  /** An action name; also matches its dotted children (`RegistryV2` counts every registry request). */
  action?: string;
  accessKeyId?: string;
}

export interface CounterSnapshot {
  total: number;
  byAction: Record<string, number>;
  /** Per access key id, then per action. Calls with no parsable key are not listed here. */
  byAccessKey: Record<string, Record<string, number>>;
}

/** Counts every call received, including those refused or faulted, per action and per access key. */
export class CallCounters {
  private readonly byAction = new Map<string, number>();
  private readonly byKey = new Map<string, Map<string, number>>();
  private total = 0;

  record(action: string, accessKeyId: string | undefined): void {
    this.total += 1;
    this.byAction.set(action, (this.byAction.get(action) ?? 0) + 1);
    if (accessKeyId === undefined) return;
    let perAction = this.byKey.get(accessKeyId);
    if (!perAction) {
      perAction = new Map();
      this.byKey.set(accessKeyId, perAction);
    }
    perAction.set(action, (perAction.get(action) ?? 0) + 1);
  }

  count(filter: CallFilter = {}): number {
    const source = filter.accessKeyId === undefined ? this.byAction : this.byKey.get(filter.accessKeyId);
    if (!source) return 0;
    let sum = 0;
    for (const [action, n] of source) if (actionMatches(filter.action, action)) sum += n;
    return sum;
  }

  snapshot(): CounterSnapshot {
    const byAccessKey: Record<string, Record<string, number>> = {};
    for (const [key, perAction] of this.byKey) byAccessKey[key] = Object.fromEntries(perAction);
    return { total: this.total, byAction: Object.fromEntries(this.byAction), byAccessKey };
  }

  reset(): void {
    this.byAction.clear();
    this.byKey.clear();
    this.total = 0;
  }
}
