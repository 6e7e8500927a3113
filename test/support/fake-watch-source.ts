import type { WatchQueryParams, WatchSource } from '../../src/runtime/informer.ts';

/** One watch request a FakeWatchSource was asked for; the test sends its events and ends it. */
export interface FakeWatch {
  path: string;
  params: WatchQueryParams;
  send(phase: string, object: unknown): void;
  end(err?: unknown): void;
  aborted: boolean;
}

/** A WatchSource whose watches the test drives by hand. */
export class FakeWatchSource implements WatchSource {
  readonly watches: FakeWatch[] = [];

  async watch(
    path: string,
    params: WatchQueryParams,
    onEvent: (phase: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ) {
    const watch: FakeWatch = {
      path,
      params,
      aborted: false,
      send: (phase, object) => {
        if (!watch.aborted) onEvent(phase, object);
      },
      end: (err) => {
        if (!watch.aborted) onDone(err ?? null);
      },
    };
    this.watches.push(watch);
    return {
      abort: () => {
        watch.aborted = true;
      },
    };
  }

  get last(): FakeWatch {
    return this.watches[this.watches.length - 1]!;
  }
}
