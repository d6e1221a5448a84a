// Test helper: counting the AbortControllers a code path creates (the success path should create none).

const RealAbortController = globalThis.AbortController;

/** Counts the `AbortController`s created from now on, until {@link restoreAbortController}. */
export function countControllers(): { readonly count: number } {
  const counter = { count: 0 };
  globalThis.AbortController = class extends RealAbortController {
    constructor() {
      super();
      counter.count++;
    }
  };
  return counter;
}

/** Puts the real `AbortController` back (call it in `afterEach`). */
export function restoreAbortController(): void {
  globalThis.AbortController = RealAbortController;
}
