import type { Random } from '../clock/clock.js';
import { type Backoff, delayOf } from '../retry/backoff.js';
import type { BreakerSnapshot, BreakerStateName } from './options.js';
import type { BreakerWindow } from './strategy.js';

/** How a settled call counts. */
export type CallOutcome = 'success' | 'failure' | 'ignored';

/** What the machine decides for a call: run it, run it as a probe, or reject it. */
export type Admission = 'call' | 'probe' | 'reject';

/**
 * A probe round that ran out re-opens the breaker `RAN_OUT` rounds on, every other move one:
 * a late probe success then counts while every move since its round was such an opening or
 * the half-open after it (see `settleProbe`).
 */
const RAN_OUT = 1_048_576; // 2 ** 20, a literal: a bundle without the breaker drops it

export interface MachineConfig {
  readonly halfOpenAfter: Backoff;
  readonly halfOpenMaxCalls: number;
}

/**
 * The breaker's state machine over plain fields and a window. Every decision depends only
 * on these fields, the config and the `now` passed in, so the same code serves the
 * in-process breaker (stepped in place) and `breakerTransition` (stepped on a copy of a
 * JSON snapshot, as a store applies it).
 */
export class BreakerMachine {
  state: BreakerStateName = 'closed';
  /** Bumped on every state change; a probe settling under an older round is stale. */
  round = 0;
  /** While open: when the next probe is admitted. */
  nextProbeAt = 0;
  /** Openings since the last close: the `halfOpenAfter` backoff's retry number. */
  openings = 0;
  lastDelayMs = 0;
  /** While half-open: when the latest probe was admitted. */
  lastProbeAt = 0;
  probes = 0;
  probeSuccesses = 0;
  isolations = 0;
  /** Called on every change of state (set by the owner to emit events). */
  onChange: ((from: BreakerStateName, to: BreakerStateName) => void) | undefined = undefined;

  readonly config: MachineConfig;
  readonly window: BreakerWindow;
  readonly random: Random;

  constructor(config: MachineConfig, window: BreakerWindow, random: Random, from?: BreakerSnapshot) {
    this.config = config;
    this.window = window;
    this.random = random;
    if (from) {
      this.state = from.state;
      this.round = from.round;
      this.nextProbeAt = from.nextProbeAt;
      this.openings = from.openings;
      this.lastDelayMs = from.lastDelayMs;
      this.lastProbeAt = from.lastProbeAt;
      this.probeSuccesses = from.probeSuccesses;
      this.isolations = from.isolations ?? (from.state === 'isolated' ? 1 : 0);
    }
  }

  /** Time-driven changes: open → half-open when due; a probe round that ran out → open. */
  advance(now: number): void {
    this.#rebase(now);
    if (this.state === 'open' && now >= this.nextProbeAt) {
      this.lastProbeAt = now;
      this.probes = 0;
      this.move('half-open');
    } else if (
      this.state === 'half-open' &&
      this.probes >= this.config.halfOpenMaxCalls &&
      now >= this.lastProbeAt + this.lastDelayMs
    ) {
      this.open(now, RAN_OUT - 1);
    }
  }

  /** Decides a call at `now`; a probe takes a slot until `settleProbe`. */
  admit(now: number): Admission {
    if (this.state === 'closed') return 'call';
    this.advance(now);
    if (this.state === 'half-open' && this.probes < this.config.halfOpenMaxCalls) {
      this.probes++;
      this.lastProbeAt = now;
      return 'probe';
    }
    return 'reject';
  }

  /**
   * Records the outcome of a call admitted while closed in `round`: an outcome belongs to
   * the round that admitted the call, so it is dropped once the state has changed since
   * (even if the breaker has closed again) or the breaker was reset.
   */
  recordClosed(outcome: CallOutcome, slow: boolean, now: number, round = this.round): void {
    if (outcome === 'ignored' || round !== this.round || this.state !== 'closed') return;
    if (this.window.record(outcome === 'failure', slow, now)) this.open(now);
  }

  /**
   * Settles a probe admitted in `round`: a failure re-opens, enough successes close. Of a probe
   * whose round ran out, only a success counts, and only while no failure opened it since.
   */
  settleProbe(round: number, outcome: CallOutcome, now: number): void {
    const since = this.round - round; // RAN_OUT per round run out, 1 per other move
    if (round === this.round) this.probes--;
    else if (
      outcome !== 'success' ||
      !this.state.endsWith('open') ||
      !(since >= RAN_OUT && since % RAN_OUT <= since / RAN_OUT)
    )
      return;
    if (outcome === 'failure') this.open(now);
    else if (outcome === 'success' && ++this.probeSuccesses >= this.config.halfOpenMaxCalls) this.close();
  }

  isolate(): void {
    this.isolations++;
    if (this.state !== 'isolated') this.move('isolated');
  }

  /** Ends one isolation; the last one closes the breaker. */
  release(): void {
    if (this.isolations > 0 && --this.isolations === 0 && this.state === 'isolated') this.close();
  }

  /** Closes and starts a new round, so calls in flight before the reset never count after it. */
  reset(): void {
    this.isolations = 0;
    this.close();
  }

  /** Ms until a probe could be admitted (0 when a call would pass; `Infinity` when isolated). */
  retryAfter(now: number): number {
    this.#rebase(now);
    if (this.state === 'isolated') return Number.POSITIVE_INFINITY;
    if (this.state === 'open') return Math.max(0, this.nextProbeAt - now);
    if (this.state === 'half-open' && this.probes >= this.config.halfOpenMaxCalls) {
      return Math.max(0, this.lastProbeAt + this.lastDelayMs - now);
    }
    return 0;
  }

  /** The JSON state; `probes` are the probes in flight now. */
  snapshot(): BreakerSnapshot {
    return {
      version: 1,
      state: this.state,
      round: this.round,
      nextProbeAt: this.nextProbeAt,
      openings: this.openings,
      lastDelayMs: this.lastDelayMs,
      lastProbeAt: this.lastProbeAt,
      probes: this.probes,
      probeSuccesses: this.probeSuccesses,
      isolations: this.isolations,
      window: this.window.snapshot(),
    };
  }

  // A clock that stepped back (NTP; another instance's skew) waits one delay from where it
  // reads now, not the step as well; never less than a delay after it read the opening.
  #rebase(now: number): void {
    if (this.nextProbeAt > now + this.lastDelayMs) this.nextProbeAt = now + this.lastDelayMs;
    if (this.lastProbeAt > now) this.lastProbeAt = now;
  }

  open(now: number, ranOut = 0): void {
    this.round += ranOut;
    this.openings++;
    const delay = delayOf(this.config.halfOpenAfter, this.openings, this.lastDelayMs, this.random);
    this.lastDelayMs = delay;
    this.nextProbeAt = now + delay;
    this.probes = 0;
    this.probeSuccesses = 0;
    this.window.reset();
    this.move('open');
  }

  close(): void {
    this.openings = 0;
    this.lastDelayMs = 0;
    this.probes = 0;
    this.probeSuccesses = 0;
    this.window.reset();
    this.move('closed');
  }

  move(to: BreakerStateName): void {
    const from = this.state;
    this.state = to;
    this.round++;
    if (from !== to) this.onChange?.(from, to);
  }
}
