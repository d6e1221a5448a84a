import { format } from 'node:util';
import { afterEach, expect, it, vi } from 'vitest';
import { consoleLogger } from './logger.js';

afterEach(() => {
  vi.restoreAllMocks();
});

it.each(['info', 'warn', 'error'] as const)(
  "console's %s prints a message with format directives as it is, and the fields after it",
  (level) => {
    const printed: string[] = [];
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      printed.push(format(...args));
    });
    // An error's message the client chose: `%c` took the fields as its argument, and printed nothing.
    consoleLogger[level]({ correlationId: 'req-7', status: 500 }, 'GET / failed: no order %c%s%o');
    expect(printed).toEqual([`GET / failed: no order %c%s%o ${format({ correlationId: 'req-7', status: 500 })}`]);
  },
);
