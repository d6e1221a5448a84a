import { ConfigurationError } from './errors.js';

// `handle(error) === true` (a truthy value is no yes), false when it throws or the error cannot
// be read: the caller gets its own error. With `subject`, a promise (a non-async function that
// returns one) is refused: never awaited, it would say no to every error, silently. The
// call's own error stays as the refusal's `cause`; the promise's rejection is not left unhandled.
export const handles = (
  handle: (error: unknown) => boolean,
  error: unknown,
  subject?: string,
  option = 'handle',
): boolean => {
  let yes: unknown;
  try {
    yes = handle(error);
  } catch {
    return false;
  }
  if (subject && yes instanceof Promise) {
    yes.catch(() => {});
    throw Object.assign(
      new ConfigurationError(subject, [
        { option, received: yes, allowed: 'true or false at once (it is not awaited)' },
      ]),
      { cause: error },
    );
  }
  return yes === true;
};
