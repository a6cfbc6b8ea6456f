/**
 * Work a component started without waiting for it (an engine's removal, a pool's refill, a
 * replaced deployment's shutdown), kept so that closing the component can wait for it. How
 * the work fails is its own business, reported where it runs; here it only counts as over.
 */
export class BackgroundWork {
  private readonly pending = new Set<Promise<unknown>>();

  /** How much is still under way. */
  get size(): number {
    return this.pending.size;
  }

  /** Keeps `work` until it settles, and answers it unchanged. */
  add<T>(work: Promise<T>): Promise<T> {
    const tracked = work.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(tracked);
    void tracked.then(() => this.pending.delete(tracked));
    return work;
  }

  /** Resolves once everything added, including work added meanwhile, has settled. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }
}
