import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { subscriptionOf } from './channel.js';

/** An ioredis subscriber's shape, recording the commands it is sent. */
class FakeIoRedis extends EventEmitter {
  readonly sent: string[] = [];
  evalsha() {}
  subscribe(channel: string) {
    this.sent.push(`subscribe ${channel}`);
    return Promise.resolve(1);
  }
  unsubscribe(channel: string) {
    this.sent.push(`unsubscribe ${channel}`);
    return Promise.resolve(0);
  }
}

describe('subscriptionOf an ioredis subscriber', () => {
  it('keeps a channel subscribed for the other copy of this package (ESM and CommonJS) when one copy stops', async () => {
    const copy = (await import('./channel.js?copy' as string)) as typeof import('./channel.js');
    const io = new FakeIoRedis();
    const heard: string[] = [];
    const mine = (m: string) => heard.push(`mine ${m}`);
    const theirs = (m: string) => heard.push(`theirs ${m}`);
    await subscriptionOf(io)!.subscribe('ch', mine);
    await copy.subscriptionOf(io)!.subscribe('ch', theirs);
    await subscriptionOf(io)!.unsubscribe('ch', mine);
    expect(io.sent).toEqual(['subscribe ch', 'subscribe ch']); // no UNSUBSCRIBE under the other's listener
    io.emit('message', 'ch', 'open');
    expect(heard).toEqual(['theirs open']);
    expect(io.listenerCount('message')).toBe(1); // one for every copy
  });
});
