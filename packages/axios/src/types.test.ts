import { isIdempotentRequest, type ResilientClient } from '@resilience/core';
import axios, { type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { describe, expectTypeOf, it } from 'vitest';
import { withResilience } from './index.js';

// docs/axios.md's per-request opt-out: a key of the request config of your own, typed by augmentation.
declare module 'axios' {
  interface AxiosRequestConfig {
    /** `false`: send this request once, whatever its method. */
    retry?: false;
  }
}

describe('withResilience types', () => {
  it('returns the instance it was given, with the client', () => {
    const api = withResilience(axios.create());
    expectTypeOf(api).toMatchTypeOf<AxiosInstance>();
    const get = () => api.get<{ id: string }>('/items/1'); // typed, never called
    expectTypeOf(get).returns.resolves.toMatchTypeOf<AxiosResponse<{ id: string }>>();
    expectTypeOf(api.client).toEqualTypeOf<ResilientClient<InternalAxiosRequestConfig, AxiosResponse>>();
  });

  it('types idempotent and key with the request config', () => {
    withResilience(axios.create(), {
      idempotent: (config) => {
        expectTypeOf(config).toEqualTypeOf<InternalAxiosRequestConfig>();
        return config.url?.startsWith('/v1/') === true;
      },
      key: (config) => config.baseURL ?? '',
    });
  });

  it('reads a request config key of your own, declared by module augmentation (a per-request opt-out)', () => {
    withResilience(axios.create(), {
      idempotent: (config) =>
        config.retry !== false &&
        isIdempotentRequest(config.method ?? 'get', config.headers.get('idempotency-key') as string | null),
    });
    const once = () => axios.create().get('/items', { retry: false }); // typed, never called
    expectTypeOf(once).returns.resolves.toMatchTypeOf<AxiosResponse>();
  });
});
