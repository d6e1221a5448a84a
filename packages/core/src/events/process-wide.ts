// The value on `globalThis` under `Symbol.for(key)`, made by `make` on first use: one for every
// copy of a package in the process (its ESM and CommonJS entries, two installed versions), so
// what one copy keeps there the others find. Version the key (`.v1`) when the value's shape changes.
export const processWide = <T>(key: string, make: () => T): T =>
  ((globalThis as Record<symbol, T>)[Symbol.for(key)] ??= make());
