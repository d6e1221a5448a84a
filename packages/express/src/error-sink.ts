import type { ErrorHandling } from '@resilience/node-server';
import type { Request } from 'express';

// Express calls an error handler only with an error passed to `next`, and it is mounted
// last: it never sees a request the other middleware answered themselves (a timeout's 503, a
// shed). Those are recorded by the app's errorHandler all the same, found in its router.

// Registered, so an errorHandler of another copy of this package (its ESM and CommonJS entries,
// two versions) is found too; versioned, should ErrorHandling change.
const HANDLING = Symbol.for('@resilience/express:errorHandling.v1');

type Layer = { handle?: { [HANDLING]?: ErrorHandling; stack?: unknown }; route?: unknown };

/** Marks an Express error handler as ours, with the handling that records for it. */
export function withHandling<F extends object>(fn: F, handling: ErrorHandling): F {
  return Object.assign(fn, { [HANDLING]: handling });
}

function find(stack: unknown, depth: number): ErrorHandling | undefined {
  if (!Array.isArray(stack)) return undefined;
  for (const layer of stack as Layer[]) {
    const handle = layer?.handle;
    const own = handle?.[HANDLING];
    if (own !== undefined) return own;
    // A router mounted on the app (Express.Router() keeps its layers in `stack`).
    const nested = depth < 8 ? find(handle?.stack, depth + 1) : undefined;
    if (nested !== undefined) return nested;
  }
  return undefined;
}

const found = new WeakMap<object, ErrorHandling | null>();

/** The first errorHandler of ours in the request's app (Express 5 `app.router`, 4 `app._router`), looked up once per app. */
export function appErrorHandling(req: Request): ErrorHandling | undefined {
  const app = req.app as (Request['app'] & { router?: { stack?: unknown }; _router?: { stack?: unknown } }) | undefined;
  if (app === undefined) return undefined;
  let handling = found.get(app);
  if (handling === undefined) {
    // Express 4 throws on `app.router` (a 3.x leftover): `_router` first.
    const stack = (app._router ?? app.router)?.stack;
    handling = find(stack, 0) ?? null;
    found.set(app, handling);
    // Mounted on the app before a route or a router: their errors never reach it.
    const layers = stack as Layer[];
    const at = handling ? layers.findIndex((layer) => layer?.handle?.[HANDLING] === handling) : -1;
    if (at >= 0 && layers.slice(at + 1).some((layer) => layer?.route || Array.isArray(layer?.handle?.stack))) {
      handling?.misplaced(
        "errorHandler is mounted before routes, and Express passes an error only to the error handlers after the layer that threw it: your routes' errors get Express's default HTML answer, neither problem+json nor recorded; mount it last (app.use(errorHandler()) after the routes)",
      );
    }
  }
  return handling ?? undefined;
}
