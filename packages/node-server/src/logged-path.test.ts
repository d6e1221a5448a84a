import { expect, it } from 'vitest';
import { loggedText } from './logged-path.js';

it('cuts a message to 500 characters after hiding its URLs’ secrets, as recentErrors and logEvents do', () => {
  expect(loggedText('x'.repeat(100_000))).toBe(`${'x'.repeat(500)}…`);
  expect(loggedText('refused: https://u:pw@db-7/x?token=abc#t\nnext')).toBe('refused: https://…@db-7/x?…#…\\u{a}next');
  // A credential that runs past the first 1 000 characters is hidden whole, never shown in part.
  const long = `refused: https://${'p'.repeat(1_200)}@db-7/`;
  expect(loggedText(long)).toBe('refused: https://…@db-7/');
});
