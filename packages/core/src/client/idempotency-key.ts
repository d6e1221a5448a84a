import type { Random } from '../clock/clock.js';

/** A version-4 UUID drawn from `random` (for tests and seeded runs). */
export function uuidFrom(random: Random): string {
  let hex = '';
  for (let i = 0; i < 32; i++) {
    const n = Math.floor(random() * 16);
    hex += (i === 12 ? 4 : i === 16 ? 8 | (n & 3) : n).toString(16);
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * A generator of `Idempotency-Key` values: UUIDs quoted as the structured-field string the
 * draft specifies (`"8e03978e-40d5-43e8-bc93-6894a57f9324"`), from `random` when one is
 * injected and from the platform's cryptographic `crypto.randomUUID()` otherwise.
 */
export function idempotencyKeys(random: Random | undefined): () => string {
  return random === undefined ? () => `"${globalThis.crypto.randomUUID()}"` : () => `"${uuidFrom(random)}"`;
}
