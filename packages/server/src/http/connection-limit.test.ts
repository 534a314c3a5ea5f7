import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ConnectionsPerAddress } from './connection-limit.js';

const connection = (remoteAddress: string | undefined) => Object.assign(new EventEmitter(), { remoteAddress });

describe('ConnectionsPerAddress', () => {
  it('refuses connections from an address that holds the most, and admits again once one closes', () => {
    const connections = new ConnectionsPerAddress(2);
    const [first, second, third] = [connection('10.0.0.1'), connection('10.0.0.1'), connection('10.0.0.1')];
    for (const each of [first, second, third]) connections.track(each);
    expect([first, second, third].map((each) => connections.isRefused(each))).toEqual([false, false, true]);
    expect(connections.openFrom('10.0.0.1')).toBe(2);

    third.emit('close');
    expect(connections.openFrom('10.0.0.1')).toBe(2);
    first.emit('close');
    const fourth = connection('10.0.0.1');
    connections.track(fourth);
    expect(connections.isRefused(fourth)).toBe(false);
  });

  it('counts each address apart', () => {
    const connections = new ConnectionsPerAddress(1);
    const [one, other] = [connection('10.0.0.1'), connection('10.0.0.2')];
    connections.track(one);
    connections.track(other);
    expect(connections.isRefused(other)).toBe(false);
    one.emit('close');
    other.emit('close');
    expect([connections.openFrom('10.0.0.1'), connections.openFrom('10.0.0.2')]).toEqual([0, 0]);
  });

  it('0 is no cap, and a connection without an address (already gone) is never refused', () => {
    const unlimited = new ConnectionsPerAddress(0);
    const many = Array.from({ length: 1000 }, () => connection('10.0.0.1'));
    for (const each of many) unlimited.track(each);
    expect(many.some((each) => unlimited.isRefused(each))).toBe(false);
    const capped = new ConnectionsPerAddress(1);
    const gone = [connection(undefined), connection(undefined)];
    for (const each of gone) capped.track(each);
    expect(gone.some((each) => capped.isRefused(each))).toBe(false);
  });
});
