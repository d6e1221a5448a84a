import { isPlainObject } from './validate.js';

/** The fields of an error (or header set, or response) of unknown shape, read loosely. */
export type Bag = Record<string, unknown>;

/** `v` when it is an object whose fields can be read, else `undefined`. */
export const asBag = (v: unknown): Bag | undefined => (typeof v === 'object' && v !== null ? (v as Bag) : undefined);

/**
 * An own key of `o` that `names` does not list (a misspelt option), or `''` when `o` is no
 * plain object (an array): checked on a call's fast path.
 */
export const unknownKey = (o: object, names: object): string | undefined =>
  isPlainObject(o) ? Object.keys(o).find((k) => !Object.hasOwn(names, k)) : '';
