import type { Clock } from '../clock/clock.js';
import { keepRenewing } from '../store/lease.js';
import type { Store } from '../store/store.js';
import type { SagaLogInput, SagaLogOp, sagaLogTransition } from './log.js';

/**
 * One execution's (or recovery's) hold on its durable log: it writes as the log's owner,
 * renews the owner's lease (`touch`) every third of `recoverAfterMs` while it runs, and
 * knows when it lost the log — a write refused because another owner took it over. No
 * one can take the log while the last accepted write is younger than `recoverAfterMs`.
 */
export class LogHold {
  /** Set once a write was refused: another owner holds the log, so this run must stop. */
  lost = false;
  #confirmedAt: number;
  #stop: (() => void) | undefined;

  constructor(
    readonly store: Store,
    readonly key: string,
    readonly owner: string,
    readonly transition: ReturnType<typeof sagaLogTransition>,
    readonly clock: Clock,
    readonly recoverAfterMs: number,
    /** When the log was last written by this owner (a claim's time for a recovery). */
    confirmedAt: number,
  ) {
    this.#confirmedAt = confirmedAt;
  }

  /** Writes one event; resolves `false` (and sets `lost`) when another owner holds the log. Rejects on a store error. */
  async write(op: SagaLogOp): Promise<boolean> {
    const now = this.clock.now();
    const held = await this.store.apply(this.key, this.transition, { ...op, owner: this.owner } as SagaLogInput, now);
    if (held) this.#confirmedAt = Math.max(this.#confirmedAt, now);
    else this.lost = true;
    return held;
  }

  /**
   * Writes one event where a store error must not stop the run: the error goes to
   * `onError`, and the run may go on while its lease is certainly still its own. Resolves
   * `false` when the log is lost, or when the lease may have run out (then `lost` is set:
   * whoever takes the log over finishes the work).
   */
  async record(op: SagaLogOp, onError: (error: unknown) => void): Promise<boolean> {
    try {
      return await this.write(op);
    } catch (error) {
      onError(error);
      if (this.clock.now() - this.#confirmedAt < this.recoverAfterMs) return true;
      this.lost = true;
      return false;
    }
  }

  /** Starts renewing the lease; {@link release} stops. */
  hold(): void {
    this.#stop ??= keepRenewing(this.clock, this.recoverAfterMs / 3, () => this.write({ op: 'touch' }));
  }

  release(): void {
    this.#stop?.();
  }
}
