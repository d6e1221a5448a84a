// Told once when the signal it follows aborts (the `EventListenerObject` shape, so no closure per call).
export interface AbortFollower {
  handleEvent(): void;
}

const fanouts = new WeakMap<AbortSignal, Fanout>();

// The followers of one signal, behind the one listener this module adds to it.
class Fanout extends Set<AbortFollower> {
  constructor(readonly signal: AbortSignal) {
    super();
  }

  // The signal aborted: tell every follower, in the order they started following. A function,
  // not an `EventListenerObject`: a polyfill's emitter may call only functions.
  readonly fire = (): void => {
    // Live iteration: a follower that stops following while an earlier one is told (a call
    // settled by an abort handler) is skipped; each is removed before it is told.
    for (const follower of this) {
      this.delete(follower);
      try {
        follower.handleEvent();
      } catch (error) {
        // One follower's bug (an adapter's callback) must not leave the others unheard.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    fanouts.delete(this.signal);
  };
}

const ONCE = { once: true } as const;

// Tells `follower` when `signal` aborts. However many calls follow one caller signal, the
// signal carries ONE listener, added when the first follower comes and removed when the last
// leaves: `addEventListener` and `removeEventListener` are linear in the listeners already
// there, so a listener per call made N concurrent calls cost O(N²) and set off Node's
// `MaxListenersExceededWarning`. Following and unfollowing cost O(1). (The listener goes with
// the last follower because Node keeps an `AbortSignal.any()` or `AbortSignal.timeout()`
// signal alive while it has abort listeners.)
// `signal` must not be aborted yet (callers check `signal.aborted` first).
export function followAbort(signal: AbortSignal, follower: AbortFollower): void {
  let fanout = fanouts.get(signal);
  if (fanout === undefined) {
    fanout = new Fanout(signal);
    fanouts.set(signal, fanout);
    signal.addEventListener('abort', fanout.fire, ONCE);
  }
  fanout.add(follower);
}

// Stops telling `follower` about `signal` (no-op when it does not follow it).
export function unfollowAbort(signal: AbortSignal, follower: AbortFollower): void {
  const fanout = fanouts.get(signal);
  if (fanout?.delete(follower) && fanout.size === 0) {
    fanouts.delete(signal);
    signal.removeEventListener('abort', fanout.fire);
  }
}

// @internal How many followers `signal` has (for tests: no call may stay after it settles).
export function followerCount(signal: AbortSignal): number {
  return fanouts.get(signal)?.size ?? 0;
}
