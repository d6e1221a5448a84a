import type { OptionsValidator } from '@resilience/core/internal';

const WHERE = 'nothing here (a signal cancels one call: client.path.query(input, { signal }))';

/**
 * A `signal` in a link's options or one of their `sections` (p-retry's habit: one for every
 * call) is refused with where tRPC takes one; core would point it to `execute(fn, signal)`,
 * which a link has not. Call it before `v.known`. Getters are not called.
 */
export function refuseSignal(v: OptionsValidator, options: unknown, ...sections: string[]): void {
  const own = (at: unknown, name: string) =>
    typeof at === 'object' && at !== null ? Object.getOwnPropertyDescriptor(at, name) : undefined;
  try {
    for (const section of ['', ...sections]) {
      const signal = own(section === '' ? options : own(options, section)?.value, 'signal');
      if (signal) v.check(false, section === '' ? 'signal' : `${section}.signal`, signal.value, WHERE);
    }
  } catch {}
}
