/**
 * Scenarios for the message retry counter (`messages.attempt`, `messages.failed`,
 * `messages.dead`), driven through the Store interface only, exactly as
 * `messageProcessor()` calls them.
 */
import { attemptTransition, deadTransition, failedTransition } from '../messages/counter.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const TTL_MS = 1_000;
const attempt = attemptTransition(TTL_MS);
const failed = failedTransition(TTL_MS);
const dead = deadTransition(TTL_MS);
const KEY = 'msg:m-1';

export const messageScenarios: readonly StoreScenario[] = [
  {
    name: 'messages: attempts are counted per message id with the last error, and expire with the TTL',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      same(await store.apply(KEY, attempt, null, await at(0)), { n: 1, attempt: 1 }, 'first attempt');
      const last = 'Error: ECONNRESET';
      same(await store.apply(KEY, failed, { last }, await at(10)), null, 'failure noted');
      same(await store.get(KEY, 10), { n: 1, last }, 'state after a failure');
      same(await store.apply(KEY, attempt, null, await at(20)), { n: 2, last, attempt: 2 }, 'second attempt');
      same(await store.get(KEY, await at(1_019)), { n: 2, last }, 'state just before the TTL (from the last write)');
      same(await store.get(KEY, await at(1_020)), undefined, 'state at the TTL');
      same(await store.apply(KEY, attempt, null, 1_020), { n: 1, attempt: 1 }, 'counting restarts after expiry');
      same(await store.apply('msg:m-2', failed, { last }, 1_020), null, 'failure of an unknown id');
      same(await store.get('msg:m-2', 1_020), undefined, 'a failure alone creates no counter');
      same(await store.delete(KEY), true, 'a processed message drops its counter');
      same(await store.apply(KEY, attempt, null, 1_030), { n: 1, attempt: 1 }, 'attempt after the delete');
    },
  },
  {
    name: 'messages: the dead-letter mark stops counting and sinking, and lasts until its TTL',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      for (const [t, n] of [
        [0, 1],
        [1, 2],
        [2, 3],
      ] as const) {
        same((await store.apply(KEY, attempt, null, await at(t))).attempt, n, `attempt ${n}`);
      }
      await store.apply(KEY, failed, { last: 'TimeoutError: 5 s' }, await at(5));
      same(await store.apply(KEY, dead, { reason: 'max_retries_exceeded' }, await at(10)), null, 'marked dead');
      const mark = { n: 3, dead: 'max_retries_exceeded' };
      same(await store.get(KEY, 10), mark, 'state once dead-lettered');
      same(
        await store.apply(KEY, attempt, null, await at(20)),
        { attempt: 3, dead: 'max_retries_exceeded' },
        'a redelivery is told it was dead-lettered',
      );
      same(await store.apply(KEY, failed, { last: 'again' }, await at(30)), null, 'failure after the mark');
      same(await store.get(KEY, 30), mark, 'the mark is unchanged by later steps');
      same(
        await store.apply(KEY, attempt, null, await at(1_009)),
        { attempt: 3, dead: 'max_retries_exceeded' },
        'still dead before the TTL of the mark (later reads do not extend it)',
      );
      same(await store.get(KEY, await at(1_010)), undefined, 'the mark at its TTL');
      same(await store.apply(KEY, attempt, null, 1_010), { n: 1, attempt: 1 }, 'attempt after the mark expired');
      same(await store.apply('msg:m-2', dead, { reason: 'poison' }, 1_010), null, 'poison on first sight');
      same(await store.get('msg:m-2', 1_010), { n: 0, dead: 'poison' }, 'a poison mark without attempts');
      same(await store.apply('msg:m-2', attempt, null, 1_020), { attempt: 0, dead: 'poison' }, 'its redelivery');
    },
  },
  {
    name: 'messages: 50 concurrent attempts on one id get the numbers 1 to 50',
    async run(makeStore) {
      const { store } = await timelineOn(makeStore);
      const outputs = await Promise.all(Array.from({ length: 50 }, () => store.apply(KEY, attempt, null, 0)));
      same(
        outputs.map((o) => o.attempt).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
        'attempt numbers',
      );
      same(await store.get(KEY, 0), { n: 50 }, 'final count');
    },
  },
];
