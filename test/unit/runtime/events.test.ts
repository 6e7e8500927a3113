import { EventsV1Api, type EventsV1Event, KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { EventRecorder, type EventRecorderOptions, type EventsApi } from '../../../src/runtime/events.ts';
import { FakeClock } from '../../support/fake-clock.ts';

interface Patch {
  name: string;
  namespace: string;
  body: unknown;
}

class RecordingEventsApi implements EventsApi {
  readonly created: EventsV1Event[] = [];
  readonly patches: Patch[] = [];
  failWith: ((kind: 'create' | 'patch') => unknown) | undefined;
  /** When set, calls wait for this promise; lets a test hold writes in flight. */
  hold: Promise<void> | undefined;
  active = 0;
  maxActive = 0;

  async createNamespacedEvent(param: { namespace: string; body: EventsV1Event }): Promise<EventsV1Event> {
    return this.call('create', () => {
      this.created.push(param.body);
      return param.body;
    });
  }

  async patchNamespacedEvent(param: { name: string; namespace: string; body: unknown }): Promise<EventsV1Event> {
    return this.call('patch', () => {
      this.patches.push(param);
      return { eventTime: new Date() };
    });
  }

  private async call(kind: 'create' | 'patch', effect: () => EventsV1Event): Promise<EventsV1Event> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (this.hold) await this.hold;
      const failure = this.failWith?.(kind);
      if (failure !== undefined) throw failure;
      return effect();
    } finally {
      this.active--;
    }
  }
}

const registry = {
  apiVersion: 'ecr.pullsecrets.io/v1alpha1',
  kind: 'EcrRegistry',
  metadata: { namespace: 'team-a', name: 'prod', uid: 'uid-1', resourceVersion: '42' },
};

function setup(options: Partial<EventRecorderOptions> = {}) {
  const clock = new FakeClock(Date.UTC(2025, 0, 1));
  const api = new RecordingEventsApi();
  const recorder = new EventRecorder({
    api,
    reportingController: 'ecr.pullsecrets.io/operator',
    reportingInstance: 'operator-0',
    clock,
    ...options,
  });
  return { clock, api, recorder };
}

function seriesOf(patch: Patch | undefined): { count: number; lastObservedTime: Date } {
  const [op] = patch!.body as Array<{ op: string; path: string; value: { count: number; lastObservedTime: Date } }>;
  expect(op).to.include({ op: 'add', path: '/series' });
  return op!.value;
}

describe('EventRecorder', () => {
  it('accepts client-node EventsV1Api as its API', () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromClusterAndUser({ name: 'test', server: 'https://127.0.0.1:6443', skipTLSVerify: false }, { name: 'test' });
    const api: EventsApi = kubeConfig.makeApiClient(EventsV1Api);
    expect(api).to.have.property('createNamespacedEvent');
  });

  it('creates an events.k8s.io/v1 Event about the object', async () => {
    const { api, recorder } = setup();
    recorder.event(registry, 'Warning', 'AccessDenied', 'RefreshToken', 'ecr:GetAuthorizationToken denied');
    await recorder.flush();
    expect(api.created).to.have.length(1);
    const event = api.created[0]!;
    expect(event).to.deep.include({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      type: 'Warning',
      reason: 'AccessDenied',
      action: 'RefreshToken',
      note: 'ecr:GetAuthorizationToken denied',
      reportingController: 'ecr.pullsecrets.io/operator',
      reportingInstance: 'operator-0',
    });
    expect(event.regarding).to.deep.equal({
      apiVersion: 'ecr.pullsecrets.io/v1alpha1',
      kind: 'EcrRegistry',
      namespace: 'team-a',
      name: 'prod',
      uid: 'uid-1',
      resourceVersion: '42',
    });
    expect(event.metadata?.namespace).to.equal('team-a');
    expect(event.metadata?.name).to.match(/^prod\.[0-9a-f]+$/);
    expect(event.series).to.equal(undefined);
    // The API server only accepts MicroTime with six fractional digits.
    expect(JSON.stringify(event.eventTime)).to.equal('"2025-01-01T00:00:00.000000Z"');
  });

  it('counts repeats into the first Event series instead of creating new Events, writing at most once per interval', async () => {
    const { clock, api, recorder } = setup();
    const repeat = () => recorder.event(registry, 'Warning', 'Throttled', 'RefreshToken', 'ECR throttled the request');
    repeat();
    await recorder.flush();
    clock.advance(1000);
    repeat();
    clock.advance(1000);
    repeat();
    await recorder.flush();
    expect(api.created).to.have.length(1);
    expect(api.patches, 'throttled: nothing written before the interval ends').to.have.length(0);

    await clock.advanceAsync(28_000);
    await recorder.flush();
    expect(api.patches).to.have.length(1);
    expect(api.patches[0]).to.include({ name: api.created[0]!.metadata!.name, namespace: 'team-a' });
    const series = seriesOf(api.patches[0]);
    expect(series.count).to.equal(3);
    expect(series.lastObservedTime.getTime()).to.equal(Date.UTC(2025, 0, 1) + 2000);

    // Many more repeats within the next interval become one more patch.
    for (let i = 0; i < 50; i++) {
      clock.advance(500);
      repeat();
    }
    await recorder.flush();
    expect(api.patches).to.have.length(1);
    await clock.advanceAsync(30_000);
    await recorder.flush();
    expect(api.patches).to.have.length(2);
    expect(seriesOf(api.patches[1]).count).to.equal(53);
    expect(api.created).to.have.length(1);
  });

  it('creates separate Events when the note, reason or object differ', async () => {
    const { api, recorder } = setup();
    recorder.event(registry, 'Normal', 'TokenRefreshed', 'RefreshToken', 'valid until 12:00');
    recorder.event(registry, 'Normal', 'TokenRefreshed', 'RefreshToken', 'valid until 13:00');
    recorder.event(registry, 'Normal', 'SecretUpdated', 'RefreshToken', 'valid until 13:00');
    recorder.event({ ...registry, metadata: { ...registry.metadata, uid: 'uid-2' } }, 'Normal', 'TokenRefreshed', 'RefreshToken', 'valid until 12:00');
    await recorder.flush();
    expect(api.created).to.have.length(4);
    expect(new Set(api.created.map((e) => e.metadata?.name)).size).to.equal(4);
  });

  it('creates a new Event when the same event repeats after the dedupe window', async () => {
    const { clock, api, recorder } = setup({ dedupeWindowMs: 60_000 });
    recorder.event(registry, 'Warning', 'Throttled', 'RefreshToken', 'throttled');
    await recorder.flush();
    await clock.advanceAsync(60_000);
    recorder.event(registry, 'Warning', 'Throttled', 'RefreshToken', 'throttled');
    await recorder.flush();
    expect(api.created).to.have.length(2);
    expect(api.patches).to.have.length(0);
  });

  it('never throws into the caller when the API fails, and tries again on the next repeat', async () => {
    const { api, recorder } = setup();
    api.failWith = () => Object.assign(new Error('forbidden'), { code: 403 });
    expect(() => recorder.event(registry, 'Warning', 'AccessDenied', 'RefreshToken', 'denied')).to.not.throw();
    await recorder.flush();
    api.failWith = undefined;
    recorder.event(registry, 'Warning', 'AccessDenied', 'RefreshToken', 'denied');
    await recorder.flush();
    expect(api.created).to.have.length(1);
  });

  it('starts a new Event when the series Event has expired on the server', async () => {
    const { clock, api, recorder } = setup();
    const repeat = () => recorder.event(registry, 'Warning', 'Throttled', 'RefreshToken', 'throttled');
    repeat();
    await recorder.flush();
    repeat();
    api.failWith = (kind) => (kind === 'patch' ? Object.assign(new Error('not found'), { code: 404 }) : undefined);
    await clock.advanceAsync(30_000);
    await recorder.flush();
    repeat();
    await recorder.flush();
    expect(api.created).to.have.length(2);
  });

  it('retries a failed series update at most once per interval, and only while the series is live', async () => {
    const { clock, api, recorder } = setup({ dedupeWindowMs: 120_000 });
    const repeat = () => recorder.event(registry, 'Warning', 'Throttled', 'RefreshToken', 'throttled');
    repeat();
    await recorder.flush();
    repeat();
    let patchAttempts = 0;
    api.failWith = (kind) => {
      if (kind !== 'patch') return undefined;
      patchAttempts++;
      return Object.assign(new Error('unavailable'), { code: 503 });
    };
    for (let i = 0; i < 20; i++) {
      await clock.advanceAsync(30_000);
      await recorder.flush();
    }
    expect(patchAttempts).to.equal(4);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('does not block the caller and bounds concurrent API calls', async () => {
    const { api, recorder } = setup({ maxConcurrentWrites: 2 });
    let release!: () => void;
    api.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (let i = 0; i < 10; i++) recorder.event(registry, 'Normal', 'Reason', 'Action', `note ${i}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(api.active).to.equal(2);
    release();
    await recorder.flush();
    expect(api.created).to.have.length(10);
    expect(api.maxActive).to.equal(2);
  });

  it('truncates notes to the 1 kB the API allows', async () => {
    const { api, recorder } = setup();
    recorder.event(registry, 'Warning', 'Failed', 'Import', 'é'.repeat(1000));
    await recorder.flush();
    expect(Buffer.byteLength(api.created[0]!.note!)).to.be.at.most(1024);
  });

  it('writes pending series counts on close', async () => {
    const { clock, api, recorder } = setup();
    recorder.event(registry, 'Warning', 'Throttled', 'RefreshToken', 'throttled');
    await recorder.flush();
    recorder.event(registry, 'Warning', 'Throttled', 'RefreshToken', 'throttled');
    await recorder.close();
    expect(api.patches).to.have.length(1);
    expect(seriesOf(api.patches[0]).count).to.equal(2);
    expect(clock.pendingTimers()).to.equal(0);
  });
});
