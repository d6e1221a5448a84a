/** The fields of an error (or header set, or response) of unknown shape, read loosely. */
export type Bag = Record<string, unknown>;

/** `v` when it is an object whose fields can be read, else `undefined`. */
export const asBag = (v: unknown): Bag | undefined => (typeof v === 'object' && v !== null ? (v as Bag) : undefined);
