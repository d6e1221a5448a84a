import { describe, expect, it } from 'vitest';
import { HTTP_DEFAULTS } from './options.js';

describe('HTTP_DEFAULTS', () => {
  it('pins the defaults the docs quote', () => {
    expect(HTTP_DEFAULTS).toEqual({
      ipv6PrefixLength: 56,
      minKeyLength: 1,
      maxKeyLength: 255,
      correlationIdMaxLength: 128,
      headers: 'draft',
      challenge: 'Bearer',
    });
  });
});
