/**
 * The abort reasons of time limits that still wait for the work they stopped (a cooperative
 * timeout, the soft limit of a pair): a fallback inside gives its substitute for these, since
 * its caller still takes an answer. A limit that answered already (aggressive, a hard limit, a
 * health check's) leaves its reason out, as a caller's cancel is.
 */
export const awaitedReasons = new WeakSet<object>();
