/**
 * @module torchlight/lightning/loops/progress: counters of a loop, as Lightning's
 * `_BatchProgress`: how many items (batches, epochs) were made ready, started, processed and
 * completed, in total and in the current run (epoch).
 */
type Counts = { ready: number; started: number; processed: number; completed: number };
const zero = (): Counts => ({ ready: 0, started: 0, processed: 0, completed: 0 });

export class Progress {
  /** Since the start of training. */
  total: Counts = zero();
  /** In the current run of the loop (this epoch, for batches). */
  current: Counts = zero();
  incrementReady(): void { this.total.ready++; this.current.ready++; }
  incrementStarted(): void { this.total.started++; this.current.started++; }
  incrementProcessed(): void { this.total.processed++; this.current.processed++; }
  incrementCompleted(): void { this.total.completed++; this.current.completed++; }
  resetOnRun(): void { this.current = zero(); }
  stateDict(): Record<string, unknown> { return { total: { ...this.total }, current: { ...this.current } }; }
  loadStateDict(s: Record<string, unknown>): void {
    const t = s.total as Counts | undefined, c = s.current as Counts | undefined;
    if (t) this.total = { ...t };
    if (c) this.current = { ...c };
  }
}
