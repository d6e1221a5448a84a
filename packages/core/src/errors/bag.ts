/** The fields of an error (or header set, or response) of unknown shape, read loosely. */
export type Bag = Record<string, unknown>;

/** `v` when it is an object whose fields can be read, else `undefined`. */
export const asBag = (v: unknown): Bag | undefined => (typeof v === 'object' && v !== null ? (v as Bag) : undefined);

/** Whether `o` has an own key that `names` does not list: a misspelt option, on a call's fast path. */
export const hasUnknownKey = (o: object, names: object): boolean =>
  Object.keys(o).some((k) => !Object.hasOwn(names, k));
