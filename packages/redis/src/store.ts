import {
  type Clock,
  type JsonValue,
  type Store,
  type StoreChannel,
  type StoreKeysOptions,
  type StoreOperation,
  StoreUnavailableError,
  type Transition,
} from '@resilience/core';
import { type DeadlineEntry, DeadlineQueue } from '@resilience/core/internal';
import { RedisChannel } from './channel.js';
import type { Arg, Connection } from './client.js';
import { failed } from './failed.js';
import { odd, type ScriptSpec } from './lua/spec.js';
import { type RedisStoreOptions, resolveRedisStoreOptions } from './options.js';
import {
  applyAllScript,
  applyScript,
  batchScript,
  DELETE_SCRIPT,
  GET_SCRIPT,
  SCAN_SCRIPT,
  type Script,
  SET_SCRIPT,
  specOf,
  stateOf,
} from './scripts.js';

// biome-ignore lint/suspicious/noExplicitAny: transitions of every type.
type AnyTransition = Transition<any, any, any>;

const SCAN_COUNT = '1000';

/** At most this many decisions share one script call: more made in one tick go out in several. */
export const MAX_BATCH = 64;

/**
 * From this many waiting decisions on, they go out as two script calls of half each, sent
 * back to back: Redis runs the second while the client reads the first one's answers, so
 * neither waits for the other (50 in flight on the bench machine: one call of 50 ran at 0.9 x
 * PING, two of 25 at 1.2-1.6 x PING).
 */
export const SPLIT_AT = 8;

/**
 * Redis Cluster's hash tag of a key as `bytes` sends it: the text between the first `{` and
 * the last `}`, if not empty; else the key.
 */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.lastIndexOf('}');
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&');

const LONE = /(\p{Cs})/u;

/**
 * A key as sent to Redis. Clients send text as UTF-8, which cannot hold a lone surrogate
 * (they would send U+FFFD: `'\uD800'` and `'\uDC00'` would be one key), so text holding one
 * goes as WTF-8 bytes: each lone surrogate as its own three bytes `ED A0-BF 80-BF`, which
 * UTF-8 never holds. Redis Cluster hashes the text between the first `{` and the next `}`,
 * so a `}` in a caller's key (`{rl:api|}x}`) would cut core's hash tag short and put every
 * such key in one slot: each `}` between the first `{` and the last `}` goes as byte FF,
 * which neither holds, and the tag is what `hashTag` says. Distinct keys stay distinct;
 * any other key is sent as before.
 */
const bytes = (key: string): Arg => {
  const open = key.indexOf('{');
  const cut = open >= 0 && key.indexOf('}', open) < key.lastIndexOf('}');
  if (!cut && !LONE.test(key)) return key;
  const b = Buffer.concat(
    key.split(LONE).map((part, i) => {
      const c = part.charCodeAt(0);
      return i % 2 ? Buffer.from([0xed, 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)]) : Buffer.from(part);
    }),
  );
  if (cut) for (let i = b.indexOf(125, b.indexOf(123)); i < b.lastIndexOf(125); i = b.indexOf(125, i + 1)) b[i] = 255;
  return b;
};

/**
 * A key the SCAN script lists: text, or text and lone surrogates' codes in turn (see `bytes`).
 * Text may come as a Buffer (node-redis `typeMapping`), read as UTF-8 by `String`.
 */
const keyOf = (listed: unknown): string =>
  Array.isArray(listed)
    ? listed.map((p, i) => (i % 2 ? String.fromCharCode(Number(p)) : String(p))).join('')
    : String(listed);

/** A SCAN script's reply: a list (see `odd`). */
const scanned = (reply: unknown): unknown => (Array.isArray(reply) ? reply : odd(reply));

/** The Redis Cluster slot of a key as sent: CRC16 (XMODEM) of its hash tag, or of the key, mod 16384. */
export function slotOf(key: Arg): number {
  const b = typeof key === 'string' ? Buffer.from(key) : key;
  const open = b.indexOf(123);
  const close = open < 0 ? -1 : b.indexOf(125, open + 1);
  const tag = close > open + 1;
  let crc = 0;
  for (let i = tag ? open + 1 : 0; i < (tag ? close : b.length); i++) {
    crc ^= b[i]! << 8;
    for (let j = 0; j < 8; j++) crc = ((crc << 1) ^ (crc & 0x8000 ? 0x1021 : 0)) & 0xffff;
  }
  return crc & 16383;
}

// (Not in the JSDoc below, which is shipped.) Each transition runs as the Lua twin of core's
// JavaScript (see `./lua`); `supports` says which. Rate-limit decisions made in one tick share
// script calls: each waits for the end of the tick (process.nextTick, which runs once the
// microtasks are done, so the decisions of one burst of replies go together), and a run of
// decisions of one transition (on a cluster, of one hash tag too: one slot) goes out as one
// script applying them in turn, at most MAX_BATCH at a time, as two calls from SPLIT_AT on; one
// alone goes out as its own script, as any other operation. Any other operation sends what
// waits first, so calls reach Redis in the order they are made. On a cluster, failures are
// tracked per primary (see #silenceOf).
/**
 * The `Store` over Redis: every operation is one script, run by `EVALSHA` (and sent again
 * with `EVAL` when the server answers `NOSCRIPT`), so one atomic round trip; `keys` is one
 * per SCAN step and primary. Every failure, and every operation not answered within
 * `timeoutMs`, rejects with `StoreUnavailableError`. See docs/redis.md.
 */
export class RedisStore implements Store {
  readonly #connection: Connection;
  readonly #prefix: string;
  readonly #mode: 's' | 'c';
  readonly #clock: Clock;
  readonly #deadlines: DeadlineQueue;
  readonly #prepared = new WeakMap<AnyTransition, Prepared>();
  #waiting: Decision[] | undefined = undefined;
  #waitingTag = '';
  #flushDue = false;
  readonly #silence: Silence;
  readonly #silences = new Map<string, Silence>();
  readonly #apart: Silence;
  /** Pub/sub between the processes sharing the store, with a `subscriber` client. */
  readonly channel: StoreChannel | undefined;

  constructor(options: RedisStoreOptions) {
    // (Here, not on the fields, as comments there are shipped.) #deadlines: the deadlines of the
    // operations in flight, on one timer; #prepared: what each transition sends, computed once;
    // #waiting: decisions waiting for the end of the tick (one transition, on a cluster one hash
    // tag), in order, #waitingTag their hash tag on a cluster, #flushDue: a flush at the end of
    // the tick is due; #silences: on a cluster, whether each primary answers (see #silenceOf).
    const o = resolveRedisStoreOptions(options);
    this.#connection = o.connection;
    this.#prefix = o.keyPrefix;
    this.#mode = o.time === 'server' ? 's' : 'c';
    this.#clock = o.clock;
    this.#deadlines = new DeadlineQueue(o.clock);
    this.#silence = new Silence(o.clock, o.timeoutMs);
    this.#apart = new Silence(o.clock, o.timeoutMs);
    const connection = this.#connection;
    // Pub/sub ignores the database: a channel of one other than 0 ends in `@<db>`, so stores over two
    // databases of one server (two environments) never hear each other's breakers.
    const [prefix, db] = [this.#prefix, connection.db ? `@${connection.db}` : ''];
    this.channel =
      o.subscription &&
      new RedisChannel(
        (channel, message) => this.#bounded('publish', () => connection.publish(channel, message)),
        o.subscription,
        (topic) => prefix + topic + db,
        o.clock,
        o.random,
      );
  }

  supports(name: string, params?: JsonValue): boolean {
    return specOf(name)?.params(params ?? null) !== undefined;
  }

  apply<S, I, O>(key: string, transition: Transition<S, I, O>, input: I, now: number): Promise<O> {
    try {
      const p = this.#prepared.get(transition) ?? this.#prepare(transition);
      if (p.batch !== undefined) return this.#decide(p, this.#prefix + key, p.batch.arg(input), now) as Promise<O>;
      const args = [String(now), this.#mode, ...p.params, ...p.spec.input(input)];
      return this.#run(p.what, p.script, [this.#key(key)], args, undefined, p.spec.output) as Promise<O>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  applyAll(operations: readonly StoreOperation[], now: number): Promise<unknown[]> {
    try {
      if (operations.length === 0) return Promise.resolve([]);
      const keys = operations.map((op) => this.#prefix + op.key);
      const tag = hashTag(keys[0]!);
      const args = [String(now), this.#mode];
      const specs: ScriptSpec[] = [];
      const names: string[] = [];
      for (let i = 0; i < operations.length; i++) {
        const op = operations[i]!;
        if (keys.indexOf(keys[i]!) !== i) throw new TypeError(`applyAll: key "${op.key}" appears twice`);
        if (i > 0 && hashTag(keys[i]!) !== tag) {
          throw new TypeError(
            `redisStore.applyAll: keys "${operations[0]!.key}" and "${op.key}" do not share a hash tag, so Redis Cluster ` +
              'could not update them in one script (build them with storeKey and append to one key)',
          );
        }
        const { spec, params } = this.#prepared.get(op.transition) ?? this.#prepare(op.transition);
        const input = spec.input(op.input);
        args.push(op.transition.name, String(params.length + input.length));
        for (const p of params) args.push(p);
        for (const p of input) args.push(p);
        specs.push(spec);
        names.push(op.transition.name);
      }
      return this.#run('applyAll', applyAllScript(names), keys.map(bytes), args, undefined, (replies) =>
        (replies as unknown[]).map((reply, i) => specs[i]!.output(reply ?? null)),
      ) as Promise<unknown[]>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  get<S = JsonValue>(key: string, now: number): Promise<S | undefined> {
    return this.#run('get', GET_SCRIPT, [this.#key(key)], [String(now), this.#mode], undefined, (payload) =>
      payload == null ? undefined : stateOf(String(payload)),
    ) as Promise<S | undefined>;
  }

  async set<S = JsonValue>(key: string, state: S, ttlMs: number, now: number): Promise<void> {
    const json = state === undefined ? undefined : JSON.stringify(state);
    const ttl = json === undefined || !(ttlMs > 0) ? '0' : ttlMs === Number.POSITIVE_INFINITY ? '' : String(ttlMs);
    await this.#run('set', SET_SCRIPT, [this.#key(key)], [String(now), this.#mode, ttl, json ?? '']);
  }

  async delete(key: string): Promise<boolean> {
    return Number(await this.#run('delete', DELETE_SCRIPT, [this.#key(key)], [])) === 1;
  }

  async keys(prefix: string, now: number, options: StoreKeysOptions = {}): Promise<string[]> {
    const limit = options.limit ?? 1000;
    // A } may be stored as byte FF (see `bytes`): matched by ?, the keys found checked below. A
    // prefix ending in a pair's first half (a high surrogate) is matched without it: in a key, the
    // pair goes as four UTF-8 bytes, never as the three WTF-8 bytes of the half alone.
    const glob = /[\uD800-\uDBFF]$/.test(prefix) ? prefix.slice(0, -1) : prefix;
    const pattern = bytes(`${escapeGlob(this.#prefix + glob).replaceAll('}', '?')}*`);
    const found = new Set<string>();
    const primaries = await this.#bounded('keys', () => this.#connection.primaries());
    // A cluster client that has not connected yet knows no primary: finding nothing would be a lie.
    if (primaries.length === 0)
      throw new StoreUnavailableError('redisStore: keys: the cluster client knows no primary yet');
    for (const primary of primaries) {
      let cursor = '0';
      do {
        const args = [String(now), this.#mode, cursor, pattern, SCAN_COUNT];
        const [next, ...live] = (await this.#run('keys', SCAN_SCRIPT, [], args, primary, scanned)) as unknown[];
        for (const listed of live) {
          const key = keyOf(listed).slice(this.#prefix.length);
          if (key.startsWith(prefix) && found.size < limit) found.add(key);
        }
        cursor = String(next);
      } while (cursor !== '0' && found.size < limit);
      if (found.size >= limit) break;
    }
    return [...found];
  }

  #key(key: string): Arg {
    // The Redis key of a store key: the prefix, then the key (see `bytes`).
    return bytes(this.#prefix + key);
  }

  #prepare(transition: AnyTransition): Prepared {
    // What a transition sends (kept for the next call), or a TypeError naming it when there is no script for it.
    const spec = specOf(transition.name);
    const params = spec?.params(transition.params);
    if (spec === undefined || params === undefined) {
      throw new TypeError(
        `redisStore has no script for transition ${JSON.stringify(transition.name)} with params ` +
          `${JSON.stringify(transition.params)}; consumers ask supports() at construction and refuse such a store`,
      );
    }
    const prepared = {
      spec,
      params,
      script: applyScript(transition.name),
      what: `apply of ${transition.name}`,
      batch: spec.batch && { ...spec.batch, script: batchScript(transition.name) },
    };
    this.#prepared.set(transition, prepared);
    return prepared;
  }

  #silenceOf(key: Arg | undefined): Silence {
    // On a cluster, the Silence of the primary holding the key's slot, so one dead primary fails its
    // own keys fast, not every key. At most 64 primaries are tracked: past that the map starts over.
    const c = this.#connection;
    const owner = c.cluster && key !== undefined ? c.owner(slotOf(key)) : undefined;
    if (owner === undefined) return this.#silence;
    let silence = this.#silences.get(owner);
    if (silence === undefined) {
      if (this.#silences.size >= 64) this.#silences.clear();
      this.#silences.set(owner, (silence = new Silence(this.#clock, this.#silence.ms)));
    }
    return silence;
  }

  #decide(p: Prepared, key: string, arg: string, now: number): Promise<unknown> {
    // A rate-limit decision, sent at the end of the tick with the others of its transition (see the class).
    const k = bytes(key);
    const silence = this.#silenceOf(k);
    return (
      silence.shut(p.what) ??
      new Promise((resolve, reject) => {
        const decision = new Decision(p, k, arg, now, silence, resolve, reject);
        const t = this.#clock.now();
        this.#deadlines.add(decision, t + silence.ms, t);
        const tag = this.#connection.cluster ? hashTag(key) : '';
        let waiting = this.#waiting;
        if (waiting !== undefined && (waiting[0]!.prepared.script !== p.script || tag !== this.#waitingTag)) {
          this.#flush();
          waiting = undefined;
        }
        if (waiting === undefined) {
          this.#waiting = waiting = [];
          this.#waitingTag = tag;
          if (!this.#flushDue) {
            this.#flushDue = true;
            process.nextTick(this.#endOfTick);
          }
        }
        if (waiting.push(decision) === MAX_BATCH) this.#flush();
      })
    );
  }

  readonly #again = (waiting: Decision[]): void => this.#send(waiting, true);

  readonly #endOfTick = (): void => {
    this.#flushDue = false;
    this.#flush();
  };

  #flush(): void {
    // Sends the waiting decisions: in two calls of half each from SPLIT_AT on, else in one.
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    this.#waiting = undefined;
    if (waiting.length < SPLIT_AT) this.#send(waiting);
    else {
      const half = waiting.length >> 1;
      this.#send(waiting.slice(0, half));
      this.#send(waiting.slice(half));
    }
  }

  #send(waiting: Decision[], source = false): void {
    // One script call for these decisions: one alone by its own script, several by the transition's
    // batch script; by EVAL with the `source` after NOSCRIPT, for those still waiting (see Flight).
    const first = waiting[0]!;
    const p = first.prepared;
    let script: Script;
    let keys: Arg[];
    let args: string[];
    if (waiting.length === 1) {
      script = p.script;
      keys = [first.key];
      args = [String(first.now), this.#mode, ...p.params, first.arg];
    } else {
      script = p.batch!.script;
      keys = new Array<Arg>(waiting.length);
      args = ['', this.#mode];
      const caller = this.#mode === 'c';
      for (let i = 0; i < waiting.length; i++) {
        const d = waiting[i]!;
        keys[i] = d.key;
        if (caller) args.push(String(d.now));
        const params = d.prepared.params;
        for (let j = 0; j < params.length; j++) args.push(params[j]!);
        args.push(d.arg);
      }
    }
    const flight = new Flight(waiting, source ? undefined : this.#again);
    const c = this.#connection;
    try {
      (source ? c.eval(script.source, keys, args) : c.evalsha(script.sha, keys, args)).then(flight.answer, flight.fail);
    } catch (error) {
      flight.fail(error); // a client that throws instead of rejecting (this may run in a tick of its own)
    }
  }

  #run(
    what: string,
    script: Script,
    keys: readonly Arg[],
    args: readonly Arg[],
    on = this.#connection,
    map?: (reply: unknown) => unknown,
  ): Promise<unknown> {
    // One script call: EVALSHA, and EVAL once more if the server lost the script (NOSCRIPT); `map` reads the reply.
    this.#flush(); // what waits goes first
    const silence = this.#silenceOf(keys[0]);
    return (
      silence.shut(what) ??
      new Promise((resolve, reject) => {
        const op = new Operation(what, silence, resolve, reject, map);
        op.resendWith(on, script.source, keys, args);
        const now = this.#clock.now();
        this.#deadlines.add(op, now + silence.ms, now);
        try {
          on.evalsha(script.sha, keys, args).then(op.answer, op.fail);
        } catch (error) {
          op.fail(error); // a client that throws instead of rejecting
        }
      })
    );
  }

  #bounded<T>(what: string, operation: () => Promise<T>): Promise<T> {
    // What `operation` starts, or StoreUnavailableError when it fails or takes longer than `timeoutMs`.
    this.#flush();
    return (
      this.#silence.shut(what, false) ??
      new Promise<T>((resolve, reject) => {
        const op = new Operation(what, this.#apart, resolve as (value: unknown) => void, reject, undefined);
        const now = this.#clock.now();
        this.#deadlines.add(op, now + this.#silence.ms, now);
        try {
          operation().then(op.answer, op.fail);
        } catch (error) {
          op.fail(error);
        }
      })
    );
  }
}

/** What a transition's `apply` sends, computed on its first call. */
interface Prepared {
  readonly spec: ScriptSpec;
  readonly params: readonly string[];
  readonly script: Script;
  /** The operation's name in errors. */
  readonly what: string;
  /** For a transition whose decisions share script calls: its input's argument and its batch script. */
  readonly batch: (NonNullable<ScriptSpec['batch']> & { readonly script: Script }) | undefined;
}

const late = (what: string, timeoutMs: number): StoreUnavailableError =>
  new StoreUnavailableError(`redisStore: ${what} got no answer within ${timeoutMs} ms (timeoutMs)`);

/**
 * Whether Redis answers. One connection answers in the order commands were sent, so an
 * operation that times out with no answer to it or to any operation sent after it means
 * Redis has not caught up to it: frozen, unreachable behind a connection that has not
 * closed, or answering slower than calls come (its thread saturated: every answer late,
 * some still coming). A client keeps every command sent meanwhile (ioredis's
 * `commandTimeout` rejects one but keeps it queued), so from then on operations are refused
 * at once, but for one probe each `timeoutMs`, until Redis answers the last operation sent
 * before that, or a later one (a probe): it has then answered every command sent before
 * (late answers of older ones only show how far behind it is; an error reply counts as an
 * answer). Memory while Redis is
 * away or behind is then about `timeoutMs` of calls plus one command per `timeoutMs`,
 * whatever the call rate and the client's options. Operations take numbers in the order
 * they are sent (`n` counts them); `hear` and `lost` are told an operation's number when it
 * is answered and when it times out; `#at`, while silent, is when the next probe may go;
 * `#from` the last number sent before the silence; `shut` is undefined when an operation may
 * go (a clock stepped back does not hold the probes back),
 * else its rejection. `#bounded`'s operations (`publish`, a cluster's list of
 * primaries, which the client answers without asking Redis) count in a store's `#apart`
 * instead, so they neither start nor end its silence; they are refused with the others, and
 * never take the probe (`probe` false): `keys()`, whose first step is the list of primaries,
 * would else take it and refuse its own SCAN, and a store used only by it stay silent for good.
 */
class Silence {
  n = 0;
  #heard = 0;
  #from = 0;
  #at: number | undefined;

  constructor(
    readonly clock: Clock,
    readonly ms: number,
  ) {}

  hear(n: number): void {
    if (n > this.#heard) this.#heard = n;
    if (n >= this.#from) this.#at = undefined;
  }

  lost(n: number): void {
    if (n > this.#heard && this.#at === undefined) {
      this.#at = this.clock.now();
      this.#from = this.n;
    }
  }

  shut(what: string, probe = true): Promise<never> | undefined {
    if (this.#at === undefined) return;
    const now = this.clock.now();
    if (now < this.#at && now >= this.#at - this.ms) {
      return Promise.reject(new StoreUnavailableError(`redisStore: ${what}: not sent, Redis silent`));
    }
    if (probe) this.#at = now + this.ms;
  }
}

const isNoScript = (error: unknown): boolean => /^NOSCRIPT/.test((error as Error)?.message ?? '');

/** An error Redis answered (its text starts with a code: `ERR`, `NOSCRIPT`, `OOM`), not one of the client's own. */
const isReply = (error: unknown): boolean => /^[A-Z]+ /.test((error as Error)?.message ?? '');

/**
 * ioredis's own timeout (`commandTimeout`): no answer in time, as a `timeoutMs` that ran out, so
 * it may start a silence. A client timing out before `timeoutMs` would else keep the store
 * sending every call to a frozen Redis.
 */
const isTimeout = (error: unknown): boolean => (error as Error)?.message === 'Command timed out';

/**
 * A decision waiting for its script call and its answer: settled by the first of its answer
 * (`answer`: its decision, read from the script's reply from `at`), a failure and its deadline.
 */
class Decision implements DeadlineEntry {
  deadline = 0;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;

  readonly sent: number;

  constructor(
    readonly prepared: Prepared,
    readonly key: Arg,
    readonly arg: string,
    readonly now: number,
    readonly silence: Silence,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.sent = ++silence.n;
  }

  answer(replies: readonly unknown[], at: number): void {
    const queue = this.queue;
    if (queue === undefined) return; // timed out already
    queue.remove(this);
    try {
      this.resolve(this.prepared.batch!.read(replies, at));
    } catch (error) {
      this.reject(failed(this.prepared.what, error));
    }
  }

  fail(error: unknown): void {
    const queue = this.queue;
    if (queue === undefined) return;
    queue.remove(this);
    if (isTimeout(error)) this.silence.lost(this.sent);
    this.reject(failed(this.prepared.what, error));
  }

  expire(): void {
    this.silence.lost(this.sent);
    this.reject(late(this.prepared.what, this.silence.ms));
  }
}

/**
 * One script call carrying decisions: one alone answered by its own script, several by one
 * flat list, in their order, of each one's values (see ScriptSpec.batch) or error text. After
 * NOSCRIPT (nothing ran) `again` sends, once, only the decisions still waiting: one that timed
 * out was reported failed, so Redis never takes it.
 */
class Flight {
  #again: ((waiting: Decision[]) => void) | undefined;

  constructor(
    readonly decisions: readonly Decision[],
    again: ((waiting: Decision[]) => void) | undefined,
  ) {
    this.#again = again;
  }

  readonly answer = (reply: unknown): void => {
    const decisions = this.decisions;
    decisions[0]!.silence.hear(decisions.at(-1)!.sent);
    if (decisions.length === 1) {
      decisions[0]!.answer(reply as unknown[], 0);
      return;
    }
    const replies: readonly unknown[] = Array.isArray(reply) ? reply : [];
    const width = decisions[0]!.prepared.batch!.width;
    let at = 0;
    for (let i = 0; i < decisions.length; i++) {
      const first = replies[at];
      if (Number(first) >= 0) {
        decisions[i]!.answer(replies, at);
        at += width;
      } else {
        decisions[i]!.fail(new Error(first == null ? 'the script answered nothing for it' : String(first)));
        at++;
      }
    }
  };

  readonly fail = (error: unknown): void => {
    if (isReply(error)) this.decisions[0]!.silence.hear(this.decisions.at(-1)!.sent);
    const again = this.#again;
    if (again !== undefined && isNoScript(error)) {
      this.#again = undefined;
      const waiting = this.decisions.filter((d) => d.queue !== undefined);
      if (waiting.length > 0) again(waiting);
      return;
    }
    for (const d of this.decisions) d.fail(error);
  };
}

/**
 * One operation waiting for Redis: settled by the first of its answer, its failure (as
 * `StoreUnavailableError`) and its deadline. All of a store's deadlines share one timer
 * (a `DeadlineQueue`: the same `timeoutMs` for all, so they expire in order), so a call
 * costs no timer of its own. A late answer is dropped. `#on`, `#source`, `#keys` and `#args`
 * are the script call, sent again once with EVAL when the server answers NOSCRIPT (fields of
 * the operation, not an object of their own: one allocation a call fewer), set by `resendWith`.
 */
class Operation implements DeadlineEntry {
  deadline = 0;
  prev: DeadlineEntry | undefined = undefined;
  next: DeadlineEntry | undefined = undefined;
  queue: DeadlineQueue | undefined = undefined;
  #on: Connection | undefined = undefined;
  #source = '';
  #keys: readonly Arg[] = [];
  #args: readonly Arg[] = [];
  readonly sent: number;

  constructor(
    readonly what: string,
    readonly silence: Silence,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
    readonly map: ((reply: unknown) => unknown) | undefined,
  ) {
    this.sent = ++silence.n;
  }

  resendWith(on: Connection, source: string, keys: readonly Arg[], args: readonly Arg[]): void {
    this.#on = on;
    this.#source = source;
    this.#keys = keys;
    this.#args = args;
  }

  readonly answer = (reply: unknown): void => {
    this.silence.hear(this.sent);
    const queue = this.queue;
    if (queue === undefined) return;
    queue.remove(this);
    if (this.map === undefined) this.resolve(reply);
    else {
      try {
        this.resolve(this.map(reply));
      } catch (error) {
        this.reject(failed(this.what, error)); // a value it cannot read: written by something else
      }
    }
  };

  readonly fail = (error: unknown): void => {
    if (isReply(error)) this.silence.hear(this.sent);
    const queue = this.queue;
    if (queue === undefined) return; // timed out already
    const on = this.#on;
    if (on !== undefined && isNoScript(error)) {
      this.#on = undefined;
      try {
        on.eval(this.#source, this.#keys, this.#args).then(this.answer, this.fail);
      } catch (thrown) {
        this.fail(thrown); // a client that throws instead of rejecting
      }
      return;
    }
    queue.remove(this);
    if (isTimeout(error)) this.silence.lost(this.sent);
    this.reject(failed(this.what, error));
  };

  expire(): void {
    this.silence.lost(this.sent);
    this.reject(late(this.what, this.silence.ms));
  }
}

/**
 * A `Store` kept in Redis, over your ioredis or node-redis client: limits, breakers,
 * idempotency records, message counters and saga logs shared by every instance. Each
 * operation is one atomic Lua script; it passes core's store conformance suite.
 *
 * @example
 * import { Redis } from 'ioredis';
 * const store = redisStore({ client: new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') });
 * const limiter = rateLimiter({ algorithm: gcra({ limit: 60, periodMs: 60_000 }), store, name: 'api' });
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
