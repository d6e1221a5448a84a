import { isPlainObject, type OptionsValidator } from '@resilience/core/internal';

/**
 * Reports each name of `table` that `options` has (another library's option, where core's hint
 * would be wrong or absent) with what takes its place here; `known()` then passes over them.
 * Getters are not called (the value reported is a data property's); an object whose reads
 * throw is left to `known()`, which reports it.
 */
export function refuseTheirs(v: OptionsValidator, options: unknown, table: Readonly<Record<string, string>>): void {
  try {
    if (!isPlainObject(options)) return;
    for (const name of Object.keys(table)) {
      const own = Object.getOwnPropertyDescriptor(options, name);
      if (own) v.check(false, name, own.value, `a known option (another library's? here: ${table[name]})`);
    }
  } catch {}
}
