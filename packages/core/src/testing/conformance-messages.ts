/**
 * Scenarios for the message retry counter (`messages.attempt`, `messages.failed`,
 * `messages.claim`, `messages.release`, `messages.dead`, `messages.done`), driven through the Store
 * interface only, exactly as `messageProcessor()` calls them.
 */
import {
  attemptTransition,
  claimTransition,
  deadTransition,
  doneTransition,
  failedTransition,
  releaseTransition,
} from '../messages/counter.js';
import { type StoreScenario, same, timelineOn } from './conformance-kit.js';

const TTL_MS = 1_000;
const attempt = attemptTransition(TTL_MS);
const failed = failedTransition(TTL_MS);
const dead = deadTransition(TTL_MS);
const LEASE_MS = 300;
const claim = claimTransition(TTL_MS, LEASE_MS);
const release = releaseTransition(TTL_MS);
const KEY = 'msg:m-1';
const done = doneTransition();

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
  {
    name: 'messages: one delivery claims the dead-lettering; others are busy until it releases or its lease ends',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      for (const t of [0, 1, 2]) await store.apply(KEY, attempt, null, await at(t));
      same(await store.apply(KEY, claim, { by: 'd3' }, await at(10)), 'claimed', 'delivery 3 claims');
      same(await store.get(KEY, 10), { n: 3, sink: { by: 'd3', until: 310 } }, 'state with the claim');
      same(await store.apply(KEY, claim, { by: 'd4' }, await at(20)), 'busy', 'delivery 4 while 3 holds it');
      same(await store.apply(KEY, attempt, null, 20), { attempt: 3, sinking: true }, 'an attempt while claimed');
      same(
        await store.get(KEY, 20),
        { n: 3, sink: { by: 'd3', until: 310 } },
        'a busy claim or attempt writes nothing',
      );
      same(await store.apply(KEY, claim, { by: 'd3' }, await at(200)), 'claimed', 'the holder renews');
      same(await store.get(KEY, 200), { n: 3, sink: { by: 'd3', until: 500 } }, 'state after the renewal');
      same(await store.apply(KEY, claim, { by: 'd4' }, await at(499)), 'busy', 'busy until the renewed lease ends');
      same(
        await store.apply(KEY, release, { by: 'd4', last: 'x', reason: 'poison' }, 499),
        false,
        'release by a non-holder',
      );
      const last = 'Error: ECONNRESET';
      const owe = 'max_retries_exceeded';
      const released = { by: 'd3', last, reason: owe } as const;
      same(await store.apply(KEY, release, released, 499), true, 'the holder releases after its sink failed');
      same(await store.get(KEY, 499), { n: 3, last, owe }, 'state after the release');
      same(
        await store.apply(KEY, attempt, null, await at(500)),
        { n: 4, last, owe, attempt: 4 },
        'a redelivery counts',
      );
      same(await store.apply(KEY, claim, { by: 'd4' }, 500), 'claimed', 'delivery 4 claims');
      same(
        await store.get(KEY, 500),
        { n: 4, last, owe, sink: { by: 'd4', until: 800 } },
        'the claim keeps the error and why',
      );
      same(await store.apply(KEY, claim, { by: 'd5' }, await at(799)), 'busy', 'busy just before the lease ends');
      same(await store.apply(KEY, claim, { by: 'd5' }, await at(800)), 'claimed', 'a lapsed lease (holder crashed)');
      same(
        await store.apply(KEY, release, { by: 'd4', reason: owe }, 800),
        false,
        'the crashed holder no longer holds it',
      );
      same(await store.apply(KEY, dead, { reason: 'max_retries_exceeded' }, await at(900)), null, 'marked dead');
      same(await store.get(KEY, 900), { n: 4, dead: 'max_retries_exceeded' }, 'the mark drops the claim');
      same(await store.apply(KEY, claim, { by: 'd6' }, 900), 'dead', 'a claim once dead-lettered');
      same(await store.get(KEY, 900), { n: 4, dead: 'max_retries_exceeded' }, 'a refused claim writes nothing');
    },
  },
  {
    name: 'messages: a lapsed claim is dropped by the next attempt; a claim lives at least its lease',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      await store.apply(KEY, attempt, null, await at(0));
      same(await store.apply(KEY, claim, { by: 'd1' }, await at(10)), 'claimed', 'claimed');
      same(await store.apply(KEY, attempt, null, await at(310)), { n: 2, attempt: 2 }, 'attempt after the lease');
      same(await store.get(KEY, 310), { n: 2 }, 'the lapsed claim is gone');
      const long = claimTransition(100, 2_000);
      same(await store.apply('msg:m-2', long, { by: 'd1' }, 310), 'claimed', 'a claim on an id never attempted');
      same(await store.get('msg:m-2', 310), { n: 0, sink: { by: 'd1', until: 2_310 } }, 'its state');
      same(
        await store.get('msg:m-2', await at(2_309)),
        { n: 0, sink: { by: 'd1', until: 2_310 } },
        'kept for its lease',
      );
      same(await store.get('msg:m-2', await at(2_310)), undefined, 'dropped at its lease when that exceeds the TTL');
    },
  },
  {
    name: 'messages: a claim notes why and the error, so the attempt after a lapsed claim owes the dead-lettering',
    async run(makeStore) {
      const { store, at } = await timelineOn(makeStore);
      await store.apply(KEY, attempt, null, await at(0));
      const last = 'SyntaxError: Unexpected token';
      same(await store.apply(KEY, claim, { by: 'd1', reason: 'poison', last }, await at(10)), 'claimed', 'claimed');
      same(await store.get(KEY, 10), { n: 1, last, owe: 'poison', sink: { by: 'd1', until: 310 } }, 'noted');
      same(await store.apply(KEY, claim, { by: 'd1' }, await at(20)), 'claimed', 'renewed without them: they are kept');
      same(await store.get(KEY, 20), { n: 1, last, owe: 'poison', sink: { by: 'd1', until: 320 } }, 'kept');
      same(
        await store.apply(KEY, attempt, null, await at(320)),
        { n: 2, last, owe: 'poison', attempt: 2 },
        'the attempt after the lease (the holder crashed, or its dead mark failed)',
      );
    },
  },
  {
    name: 'messages: of 20 concurrent dead-letter claims of one id exactly one wins',
    async run(makeStore) {
      const { store } = await timelineOn(makeStore);
      await store.apply(KEY, attempt, null, 0);
      const outputs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.apply(KEY, claim, { by: `d${i}` }, 0)),
      );
      same(outputs.filter((o) => o === 'claimed').length, 1, 'claims that won');
      same(outputs.filter((o) => o === 'busy').length, 19, 'claims told busy');
    },
  },
  {
    name: "messages: a success drops the counter, never another delivery's dead mark or live claim",
    async run(makeStore) {
      const { store } = await timelineOn(makeStore);
      await store.apply(KEY, attempt, null, 0);
      same(await store.apply(KEY, done, null, 0), null, 'done');
      same(await store.get(KEY, 0), undefined, 'a counter dropped');
      await store.apply(KEY, attempt, null, 0);
      await store.apply(KEY, claim, { by: 'd1' }, 0);
      await store.apply(KEY, done, null, 10);
      same(await store.get(KEY, 10), { n: 1, sink: { by: 'd1', until: 300 } }, 'a live claim kept');
      await store.apply(KEY, done, null, 300);
      same(await store.get(KEY, 300), undefined, 'a lapsed claim dropped');
      await store.apply(KEY, dead, { reason: 'poison' }, 300);
      await store.apply(KEY, done, null, 310);
      same(await store.get(KEY, 310), { n: 0, dead: 'poison' }, 'a dead mark kept');
    },
  },
];
