import { type OptionNames, OptionsValidator } from '../errors/validate.js';

export interface FallbackOptions {
  /**
   * Which errors the fallback replaces; never one after the caller's signal aborted, unless a time
   * limit aborted it. @default every error
   */
  handle?: (error: unknown) => boolean;
  /** Name stamped on events. @default 'fallback' */
  name?: string;
}

/** Every option `fallback` takes; any other name is rejected. */
export const FALLBACK_OPTION_NAMES = { handle: true, name: true } as const satisfies OptionNames<FallbackOptions>;

export const FALLBACK_DEFAULTS = {
  name: 'fallback',
} as const;

export function resolveFallbackOptions(options: FallbackOptions): { name: string } {
  const v = new OptionsValidator('fallback');
  const o = v.known(options, FALLBACK_OPTION_NAMES);
  v.predicate('handle', o.handle);
  v.string('name', o.name);
  v.done();
  return { name: options.name ?? FALLBACK_DEFAULTS.name };
}
