import type { KubernetesObject } from '@kubernetes/client-node';
import type { InformerEvent } from './informer.ts';
import { formatKey } from './keys.ts';

/**
 * The objects this process wrote, so that the watch echoes of its own writes requeue nothing: the
 * resourceVersion each write answered with, and the writes still awaiting their answer, since the echo
 * often arrives before the answer does (at 1,000 EcrRegistries it did for more than half of them).
 */
export class OwnWrites {
  readonly #written = new Map<string, string>();
  readonly #inFlight = new Map<string, Promise<void>>();

  /** Runs `write` for `object` and records the resourceVersion it answers with. */
  record<T extends KubernetesObject>(object: T, write: (object: T) => Promise<T>): Promise<T> {
    const key = keyOf(object);
    const written = write(object).then((answer) => {
      this.#written.set(key, answer.metadata?.resourceVersion ?? '');
      return answer;
    });
    // Settles either way and never rejects: a failed write is its caller's to report, not an unhandled rejection.
    const settled: Promise<void> = written.then(
      () => {},
      () => {},
    );
    void settled.then(() => {
      if (this.#inFlight.get(key) === settled) this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, settled);
    return written;
  }

  /**
   * Whether a watch event is a change someone else made (a deletion always counts). An event that comes
   * while this process's write of the object awaits its answer returns false, and `later` is called once
   * the answer shows the event was not that write's echo.
   */
  changedByOthers(event: InformerEvent<KubernetesObject>, later: () => void): boolean {
    const key = keyOf(event.object);
    if (event.type === 'DELETED') {
      this.#written.delete(key);
      return true;
    }
    const resourceVersion = event.object.metadata?.resourceVersion;
    const inFlight = this.#inFlight.get(key);
    if (inFlight) {
      void inFlight.then(() => {
        if (this.#written.get(key) !== resourceVersion) later();
      });
      return false;
    }
    return this.#written.get(key) !== resourceVersion;
  }
}

function keyOf(object: KubernetesObject): string {
  return formatKey(object.metadata?.namespace, object.metadata!.name!);
}
