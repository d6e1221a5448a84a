/** The fields of an error (or header set, or response) of unknown shape, read loosely. */
export type Bag = Record<string, unknown>;

/** `v` when it is an object whose fields can be read, else `undefined`. */
export const asBag = (v: unknown): Bag | undefined => (typeof v === 'object' && v !== null ? (v as Bag) : undefined);

/** An own key of `o` that `names` does not list: a misspelt option, checked on a call's fast path. */
export const unknownKey = (o: object, names: object): string | undefined =>
  Object.keys(o).find((k) => !Object.hasOwn(names, k));
