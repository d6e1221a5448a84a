// The HTTP decisions reported to core's hook during each test, for tests.
import { type HttpDecision, onHttpDecision } from '@resilience/core';
import { afterEach, beforeEach } from 'vitest';

/** The decisions each test reports (as the HTTP adapters report theirs, for the server span); emptied after it. */
export function hearDecisions(): HttpDecision[] {
  const heard: HttpDecision[] = [];
  let stop = () => {};
  beforeEach(() => {
    stop = onHttpDecision((decision) => heard.push(decision));
  });
  afterEach(() => {
    stop();
    heard.length = 0;
  });
  return heard;
}
