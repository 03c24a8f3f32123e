// The router state and the queue that changes it: each change runs on a copy,
// is saved durably and only then becomes current; one change at a time, in order.
import { cloneState, type RouterState } from './model.js';
import type { StateStore } from './state-store.js';

export class StateChanges {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private state: RouterState,
    private readonly store: StateStore,
    /** Called after each change is swapped in (the registry rebuilds its route table). */
    private readonly onChanged: () => void,
  ) {}

  get current(): RouterState {
    return this.state;
  }

  /**
   * Runs `mutate` on a copy of the state, saves it, then swaps it in; a throw leaves the state as it was.
   * `evenIfUnsaved`: for the fail-safe (a lapsed guard lease), which must
   * route as it says even when the state dir cannot be written: the change is
   * swapped in anyway and the save error is thrown after it.
   */
  apply<T>(mutate: (next: RouterState) => T, options: { evenIfUnsaved?: boolean } = {}): Promise<T> {
    const run = async (): Promise<T> => {
      const next = cloneState(this.state);
      const result = mutate(next);
      let unsaved: unknown;
      try {
        await this.store.save(next);
      } catch (err) {
        if (!options.evenIfUnsaved) throw err;
        unsaved = err;
      }
      this.state = next;
      this.onChanged();
      if (unsaved !== undefined) throw unsaved;
      return result;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Resolves once the changes queued so far have run; never rejects. */
  settled(): Promise<unknown> {
    return this.queue.catch(() => undefined);
  }
}
