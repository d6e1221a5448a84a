// What a ConfigurationError names: shared by the packages' options fuzz tests (imported by
// relative path), never published. Read by its code, so no package import is needed here.
import { expect } from 'vitest';

/** The options a ConfigurationError (code `invalid_options`) thrown by `build` names, or 'accepted'; anything else thrown is rethrown. */
export function named(build: () => unknown, subject?: string): readonly string[] | 'accepted' {
  try {
    build();
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown; issues?: Array<{ option: string }> } | null;
    if (e?.code !== 'invalid_options' || !Array.isArray(e.issues)) throw error;
    if (subject !== undefined) expect(e.message).toMatch(new RegExp(`^Invalid ${subject} options: `));
    return e.issues.map((i) => i.option);
  }
  return 'accepted';
}

/** Expects `build` refused with a ConfigurationError naming `option` or a path under it. */
export function expectRefused(build: () => unknown, option: string, label = option, subject?: string): void {
  const issues = named(build, subject);
  const ok = issues !== 'accepted' && issues.some((o) => o === option || o.startsWith(`${option}.`));
  expect(ok, `${option} = ${label}: ${issues === 'accepted' ? 'accepted' : `named ${issues.join(', ')}`}`).toBe(true);
}
