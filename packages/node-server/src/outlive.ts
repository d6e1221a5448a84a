import type { ServerResponse } from 'node:http';
import type { Clock } from '@resilience/core';
import { lateResponse } from './request-state.js';

/**
 * Calls `done` when the handler is done, or after `holdMs`: whichever is first. The handler of
 * a request the toolkit answered for (a timeout's 503) is done when its late response says so
 * — it ended the response, failed or settled, however early (before the 503 had closed, say);
 * any other is done when it ends `res` (which writes nothing now: it has closed).
 */
export function outlive(res: ServerResponse, done: () => void, clock: Clock, holdMs: number): void {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    clock.clearTimeout(timer);
    done();
  };
  const timer = clock.setTimeout(release, holdMs);
  const late = lateResponse(res);
  if (late !== undefined) {
    late.observe({ end: release });
    return;
  }
  const end = res.end;
  res.end = function ended(this: ServerResponse, ...args: Parameters<ServerResponse['end']>) {
    release();
    return end.apply(this, args);
  } as ServerResponse['end'];
}
