import type { Duplex } from 'node:stream';
import type { ShutdownServer } from './options.js';

/** The server events that hand a socket over to the app: a WebSocket's upgrade, a CONNECT tunnel. */
const HANDOVERS = ['upgrade', 'connect'] as const;
type Handover = (typeof HANDOVERS)[number];
const isHandover = (event: string | symbol): event is Handover => (HANDOVERS as readonly unknown[]).includes(event);

/** What {@link trackUpgraded} returns. */
export interface UpgradedSockets {
  /** How many handed-over sockets are open. */
  readonly size: number;
  /** Ends every handed-over socket, and from now on each one handed over. */
  end(): void;
  /** Stops listening; the sockets are left as they are. */
  dispose(): void;
}

/**
 * Ends a socket once what was written to it has gone out, then destroys it: an http server's
 * sockets allow half-open connections, so a peer that never ends its side would hold it.
 */
function endSoon(socket: Duplex): void {
  if (socket.destroyed) return;
  socket.end();
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}

/**
 * The sockets the server hands to its `upgrade` and `connect` listeners (WebSockets, CONNECT
 * tunnels). Node's HTTP side forgets them (`closeAllConnections` leaves them open) while
 * `close()` still waits for them, so a shutdown would wait until its timeout. Listened for
 * only while the app listens: Node takes the upgrade path only for a server with an `upgrade`
 * listener, so one of ours alone would leave a request with `Upgrade:` (an h2c attempt)
 * unanswered instead of handled as a plain request. Memory: one entry per open handed-over
 * socket, gone when it closes.
 */
export function trackUpgraded(server: ShutdownServer): UpgradedSockets {
  const sockets = new Set<Duplex>();
  let ending = false;
  const forget = (socket: Duplex) => () => sockets.delete(socket);
  const handedOver = (_req: unknown, socket: Duplex) => {
    if (socket.destroyed || sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', forget(socket));
    // After the app's listeners have had the socket (they may answer it, or refuse it themselves).
    if (ending) process.nextTick(endSoon, socket);
  };
  const ours = (event: Handover) => server.listeners(event).includes(handedOver);
  // `newListener` comes before the app's listener is added, `removeListener` after one is removed.
  const added = (event: string | symbol, listener: unknown) => {
    if (isHandover(event) && listener !== handedOver && !ours(event)) server.prependListener(event, handedOver);
  };
  const removed = (event: string | symbol, listener: unknown) => {
    if (isHandover(event) && listener !== handedOver && server.listenerCount(event) === 1 && ours(event)) {
      server.off(event, handedOver);
    }
  };
  const dispose = () => {
    server.off('newListener', added).off('removeListener', removed);
    for (const event of HANDOVERS) server.off(event, handedOver);
  };
  try {
    for (const event of HANDOVERS) if (server.listenerCount(event) > 0) server.prependListener(event, handedOver);
    server.on('newListener', added).on('removeListener', removed);
  } catch (error) {
    dispose(); // a listener refused half-way (an app's `newListener` hook): none of ours stays
    throw error;
  }
  return {
    get size() {
      return sockets.size;
    },
    end() {
      ending = true;
      for (const socket of sockets) endSoon(socket);
    },
    dispose,
  };
}
