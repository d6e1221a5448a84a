import type { Random } from '../clock/clock.js';
import { type OptionNames, OptionsValidator } from '../errors/validate.js';

/** The defaults of the HTTP helpers, quoted in docs/http.md. */
export const HTTP_DEFAULTS = {
  /** IPv6 client addresses are keyed by their first 56 bits (a customer's usual allocation). */
  ipv6PrefixLength: 56,
  /** An `Idempotency-Key` needs at least this many characters. */
  minKeyLength: 1,
  /** An `Idempotency-Key` may have at most this many characters. */
  maxKeyLength: 255,
  /** A request's own `X-Request-Id` is used as its correlation id up to this length. */
  correlationIdMaxLength: 128,
  /** Which rate-limit fields a response carries. */
  headers: 'draft',
  /** The `WWW-Authenticate` challenge of a 401 whose error brings none (RFC 9110 requires one). */
  challenge: 'Bearer',
} as const;

/** Options of {@link idempotencyKeyParser}. */
export interface IdempotencyKeyOptions {
  /** Fewest characters a key may have: raise it (to 16, say) to refuse low-entropy keys. @default 1 */
  minKeyLength?: number;
  /** Most characters a key may have (at most 1 024). @default 255 */
  maxKeyLength?: number;
}

export const IDEMPOTENCY_KEY_OPTION_NAMES = {
  minKeyLength: true,
  maxKeyLength: true,
} as const satisfies OptionNames<IdempotencyKeyOptions>;

export function resolveIdempotencyKeyOptions(options: IdempotencyKeyOptions): Required<IdempotencyKeyOptions> {
  const v = new OptionsValidator('idempotencyKeyParser');
  const o = v.known(options, IDEMPOTENCY_KEY_OPTION_NAMES);
  v.integer('minKeyLength', o.minKeyLength, { min: 1 });
  // idempotency.execute refuses a longer key: each request with one would be a 500, not a 400.
  v.integer('maxKeyLength', o.maxKeyLength, { max: 1_024, min: 1 });
  const minKeyLength = o.minKeyLength ?? HTTP_DEFAULTS.minKeyLength;
  const maxKeyLength = o.maxKeyLength ?? HTTP_DEFAULTS.maxKeyLength;
  if (v.issues.length === 0) {
    v.check(
      minKeyLength <= maxKeyLength,
      'minKeyLength',
      o.minKeyLength,
      `an integer <= maxKeyLength (${maxKeyLength})`,
    );
  }
  v.done();
  return { minKeyLength, maxKeyLength };
}

/** Options of {@link correlationIds}. */
export interface CorrelationIdOptions {
  /** Draws the generated ids (a UUID v4 each). @default systemRandom */
  random?: Random;
  /** Longest `X-Request-Id` taken; a longer one is replaced. @default 128 */
  maxLength?: number;
}

export const CORRELATION_ID_OPTION_NAMES = {
  random: true,
  maxLength: true,
} as const satisfies OptionNames<CorrelationIdOptions>;

export function resolveCorrelationIdOptions(options: CorrelationIdOptions): { maxLength: number } {
  const v = new OptionsValidator('correlationIds');
  const o = v.known(options, CORRELATION_ID_OPTION_NAMES);
  v.predicate('random', o.random);
  v.integer('maxLength', o.maxLength, { min: 1 });
  v.done();
  return { maxLength: o.maxLength ?? HTTP_DEFAULTS.correlationIdMaxLength };
}

/**
 * Which rate-limit fields a response carries: `'draft'` `RateLimit` and `RateLimit-Policy`
 * (draft-10); `'legacy'` `RateLimit-Limit/-Remaining/-Reset` and `X-RateLimit-*`; `'both'`.
 */
export type RateLimitHeadersMode = 'draft' | 'legacy' | 'both';

/** Options of {@link rateLimitResponder}. */
export interface RateLimitResponderOptions {
  /** @default 'draft' */
  headers?: RateLimitHeadersMode;
}

export const RATE_LIMIT_RESPONDER_OPTION_NAMES = {
  headers: true,
} as const satisfies OptionNames<RateLimitResponderOptions>;

export const RATE_LIMIT_HEADERS_MODES: readonly RateLimitHeadersMode[] = ['draft', 'legacy', 'both'];
