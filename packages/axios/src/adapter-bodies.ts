// The built-in adapters' responses as this package leaves them: the fetch adapter's error
// statuses recorded, and streamed bodies released (with their fetch or request) when let go.
import type { AxiosAdapter, AxiosResponse } from 'axios';

type Fetch = typeof fetch;

/** The error statuses the fetch adapter's requests were answered with, by the `Request` its error carries. */
const statuses = new WeakMap<object, number>();
/** Each fetch with its recording wrappers (plain, and for streamed bodies), kept: axios builds its fetch adapter once per fetch function. */
const recorders = [new WeakMap<Fetch, Fetch>(), new WeakMap<Fetch, Fetch>()];
/** What ends a streamed body's fetch, by its `Request` (the response's `request`). */
const stoppers = new WeakMap<object, AbortController>();

/**
 * `fetch`, recording the status of an error response for `fetchedStatus`. For a streamed body,
 * the fetch also follows a signal of its own, which {@link stopFetch} aborts when the body is
 * cancelled ({@link stoppable}): axios may wrap the body in a stream whose `cancel()` waits for
 * the read in progress, for ever on a body that stalls; aborting the fetch ends that read.
 */
export function recording(fetch: Fetch, streamed: boolean): Fetch {
  const cache = recorders[streamed ? 1 : 0]!;
  let recorder = cache.get(fetch);
  if (recorder === undefined) {
    recorder = (input, init) => {
      if (streamed && input instanceof Request) {
        // Following the request's own signal (one per request: nothing builds up on a caller's).
        const stop = new AbortController();
        const source = input.signal;
        if (source.aborted) stop.abort(source.reason);
        else source.addEventListener('abort', () => stop.abort(source.reason), { once: true });
        stoppers.set(input, stop);
        init = { ...init, signal: stop.signal };
      }
      return fetch(input, init).then((response) => {
        if (response.status >= 400 && typeof input === 'object') statuses.set(input, response.status);
        return response;
      });
    };
    cache.set(fetch, recorder);
    cache.set(recorder, recorder); // a config sent again keeps its recorder as it is
  }
  return recorder;
}

/** Ends the fetch of a streamed body read through {@link recording}, if it was. */
const stopFetch = (request: unknown): void => {
  if (typeof request === 'object' && request !== null) stoppers.get(request)?.abort();
};

/**
 * The fetch adapter's response, its streamed body given a cancel that ends the fetch first:
 * axios' own stream around the body (under a signal or cancel token, ours whenever an attempt
 * can be cancelled, `maxContentLength` or `onDownloadProgress`) reads ahead, and its cancel
 * waits for that read. On a body that stalls (an event stream between two events), a retried
 * response kept its connection, and a caller leaving `for await` early waited, the connection
 * held, until the server sent more.
 */
export function stoppable(response: AxiosResponse | undefined): void {
  const body = response?.data as ReadableStream<Uint8Array> | null | undefined;
  if (typeof body?.getReader !== 'function') return;
  const reader = body.getReader();
  const request = response!.request;
  response!.data = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        const cancelled = reader.cancel(reason);
        stopFetch(request); // ends the read the cancel waits for
        return cancelled;
      },
    },
    { highWaterMark: 0 },
  );
}

type NodeDestroy = (error: Error | null, callback: (error?: Error | null) => void) => void;

/**
 * The http adapter's response, its streamed body under `maxContentLength` made to destroy its
 * request first: that body is a `Readable.from` over a generator of axios' own, whose destroy
 * waits for the read in progress, for ever on a body that stalls, the socket held meanwhile.
 * Destroying the request closes the socket, which ends that read.
 */
export function endsRequest(response: AxiosResponse | undefined): void {
  const body = response?.data as { _destroy?: NodeDestroy } | null | undefined;
  const request = response?.request as { destroy?: () => void } | undefined;
  const destroy = body?._destroy;
  if (typeof destroy !== 'function' || typeof request?.destroy !== 'function') return;
  body!._destroy = function (this: unknown, error, callback) {
    request.destroy!(); // a no-op once its response ended
    destroy.call(this, error, callback);
  };
}

/** `adapter`, with `own` given the response it resolves with, or its error's (an error status). */
export const owning =
  (adapter: AxiosAdapter, own: (response: AxiosResponse | undefined) => void): AxiosAdapter =>
  (config) =>
    adapter(config).then(
      (response) => {
        own(response);
        return response;
      },
      (error: unknown) => {
        own((error as { response?: AxiosResponse } | null | undefined)?.response);
        throw error;
      },
    );

/** The error status the fetch adapter's `request` was answered with, if it was. */
export const fetchedStatus = (request: unknown): number | undefined =>
  typeof request === 'object' && request !== null ? statuses.get(request) : undefined;
