import type { OutgoingHttpHeaders } from 'node:http';

/** The headers going out: those set on the response, overridden by those given to `writeHead`. */
export function merged(set: OutgoingHttpHeaders, given: unknown): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const add = (name: string, value: unknown) => {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
  };
  for (const name of Object.keys(set)) add(name, set[name]);
  if (Array.isArray(given)) {
    for (let i = 0; i + 1 < given.length; i += 2) add(String(given[i]), given[i + 1]);
  } else if (typeof given === 'object' && given !== null) {
    for (const [name, value] of Object.entries(given)) add(name, value);
  }
  return headers;
}
