import { describe, expect, it } from 'vitest';
import { latestOfEach } from './state.js';

describe('the alerts the page lists', () => {
  it('show each alert once, as it is now: resolved when its resolution is newer than its firing', () => {
    const history = [
      { api: 'koa', name: 'high_error_rate', status: 'resolved', at: 30 },
      { api: 'trpc', name: 'high_error_rate', status: 'firing', at: 20 },
      { api: 'koa', name: 'high_error_rate', status: 'firing', at: 10 },
    ];
    expect(latestOfEach(history).map((a) => `${a.api} ${a.name} ${a.status}`)).toEqual([
      'koa high_error_rate resolved',
      'trpc high_error_rate firing',
    ]);
  });
});
