/** A FIFO async lock. `acquire` resolves to a release function. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  acquire(signal?: AbortSignal): Promise<() => void> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => turn);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        previous.then(release);
        reject(signal?.reason ?? new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      previous.then(() => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return;
        resolve(release);
      });
    });
  }
}
