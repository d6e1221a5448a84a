// `handle(error) === true` (a promise or a truthy value is no yes), false when it throws or the
// error cannot be read: the caller gets its own error.
export const handles = (handle: (error: unknown) => boolean, error: unknown): boolean => {
  try {
    return handle(error) === true;
  } catch {
    return false;
  }
};
