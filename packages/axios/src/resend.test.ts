// `error.config` sent again, as a 401 token-refresh interceptor does (`api.request(error.config)`).
import { backoff, systemClock } from '@resilience/core';
import { FakeClock, sequenceRandom } from '@resilience/core/testing';
import axios, { type AxiosError, type InternalAxiosRequestConfig } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { answer, hang, type ScriptServer, scriptServer, until } from '../../fetch/src/testing/server.js';
import { type ResilientAxiosOptions, withResilience } from './index.js';

let server: ScriptServer;
afterEach(() => server?.close());

type Config = InternalAxiosRequestConfig & { _retry?: boolean };

/** An instance whose response interceptor answers a 401 by refreshing the token and sending `error.config` again, once. */
function refreshing(options: ResilientAxiosOptions) {
  let token = 'expired';
  const resent: Config[] = [];
  const api = axios.create({ baseURL: server.url });
  api.interceptors.request.use((config) => {
    config.headers.Authorization = `Bearer ${token}`;
    return config;
  });
  api.interceptors.response.use(undefined, (error: AxiosError) => {
    const config = error.config as Config;
    if (error.response?.status !== 401 || config._retry) throw error;
    config._retry = true;
    token = 'fresh';
    resent.push(config);
    return api.request(config);
  });
  return { api: withResilience(api, { clock: new FakeClock(), random: sequenceRandom(0), ...options }), resent };
}

const cancels = {
  cancelToken: () => {
    const source = axios.CancelToken.source();
    return { config: { cancelToken: source.token }, cancel: () => source.cancel('the user left') };
  },
  signal: () => {
    const controller = new AbortController();
    return { config: { signal: controller.signal }, cancel: () => controller.abort() };
  },
};

describe('error.config sent again by an interceptor (a 401 token refresh)', () => {
  for (const timed of [false, true]) {
    for (const [name, make] of Object.entries(cancels)) {
      it(`carries the caller’s ${name} and adapter, so the caller still cancels the request sent again${timed ? ' (timed attempts)' : ''}`, async () => {
        server = await scriptServer(answer(401), hang);
        const { api, resent } = refreshing(timed ? { timeout: 60_000 } : {});
        const { config, cancel } = make();
        let settled = false;
        const pending = api.get('/me', config).then(
          () => 'resolved',
          (error: unknown) => error,
        );
        void pending.finally(() => {
          settled = true;
        });
        await server.requests(2);
        const [sent] = resent;
        expect(sent?.adapter).toEqual(axios.defaults.adapter); // as the request had it, not the adapter function it resolved to
        expect(name === 'signal' ? sent?.signal : sent?.cancelToken).toBe(Object.values(config)[0]);
        cancel();
        await until(() => settled, 'the request sent again to be cancelled');
        expect(axios.isCancel(await pending)).toBe(true);
        await until(() => server.seen[1]!.aborted, 'the request sent again to be aborted');
        expect(server.seen.map((seen) => seen.headers.authorization)).toEqual(['Bearer expired', 'Bearer fresh']);
      });
    }
  }

  it('a request cancelled during a wait, or whose body transformResponse refuses, gives an error.config with the request’s adapter', async () => {
    server = await scriptServer(answer(503));
    const clock = new FakeClock();
    const api = withResilience(axios.create({ baseURL: server.url }), { clock, random: sequenceRandom(0) });
    const controller = new AbortController();
    const pending = api.get('/me', { signal: controller.signal }).catch((e: unknown) => e as AxiosError);
    await until(() => clock.pendingTimers > 0, 'a wait on the clock');
    controller.abort();
    const cancelled = await pending;
    expect(axios.isCancel(cancelled)).toBe(true);
    expect(cancelled.config?.adapter).toEqual(axios.defaults.adapter);
    server.script((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{not json'));
    const refused = (await api
      .get('/me', { responseType: 'json', transitional: { silentJSONParsing: false } })
      .catch((e: unknown) => e)) as AxiosError;
    expect(refused.code).toBe('ERR_BAD_RESPONSE');
    expect(refused.config?.adapter).toEqual(axios.defaults.adapter);
  });

  it('counts the request sent again as a call of its own: a 503 after the refresh is retried, a second 401 is not sent again', async () => {
    server = await scriptServer(answer(401), answer(503), answer(401));
    const { api, resent } = refreshing({ retry: { backoff: backoff.constant(0) }, clock: systemClock }); // a wait of 0 ms
    const error = (await api.get('/me').catch((e: unknown) => e)) as AxiosError;
    expect(error.response?.status).toBe(401);
    expect(resent).toHaveLength(1);
    expect(server.seen).toHaveLength(3);
  });
});
