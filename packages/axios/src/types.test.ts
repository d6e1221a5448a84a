import type { ResilientClient } from '@resilience/core';
import axios, { type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { describe, expectTypeOf, it } from 'vitest';
import { withResilience } from './index.js';

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
});
