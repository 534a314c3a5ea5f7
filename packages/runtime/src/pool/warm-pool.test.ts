import { describe, expect, it } from 'vitest';
import type { PreparedSandbox, SandboxLimits } from '../sandbox/sandbox-types.js';
import { WarmPool, type PoolKey } from './warm-pool.js';

const limits: SandboxLimits = { cpus: 1, memoryBytes: 1 << 30, pids: 512, tmpBytes: 1 << 29, homeBytes: 1 << 29 };
const python: PoolKey = { image: 'default', language: 'python', limits };
const node: PoolKey = { image: 'default', language: 'node', limits };

/** Stands in for a sandbox: the pool only starts, hands out and destroys them. */
class FakeSandbox implements PreparedSandbox {
  readonly ready = Promise.resolve();
  readonly codeStarted = Promise.resolve();
  readonly language;
  destroyed = false;
  exited = false;
  constructor(readonly key: PoolKey) {
    this.language = key.language;
  }
  get isAlive(): boolean {
    return !this.destroyed && !this.exited;
  }
  attachLayers(): never {
    throw new Error('not used by the pool');
  }
  attachStorage(): never {
    throw new Error('not used by the pool');
  }
  run(): never {
    throw new Error('not used by the pool');
  }
  async destroy(): Promise<void> {
    this.destroyed = true;
  }
}

/** A pool over fake sandboxes, which start at once, and a manual clock. */
function createPool(overrides: Partial<ConstructorParameters<typeof WarmPool>[0]> = {}) {
  let now = 0;
  const started: FakeSandbox[] = [];
  const pool = new WarmPool({
    prepare: async (key) => {
      const sandbox = new FakeSandbox(key);
      started.push(sandbox);
      return sandbox;
    },
    maxSlots: 10,
    maxSlotsPerKey: 4,
    maxConcurrentRefills: 2,
    idleMs: 60_000,
    now: () => now,
    ...overrides,
  });
  return { pool, started, advance: (milliseconds: number) => (now += milliseconds) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('WarmPool', () => {
  it('misses when empty, refills in the background, then hits with a single-use sandbox', async () => {
    const { pool, started } = createPool();
    expect(pool.take(python)).toBeUndefined();
    await settle();
    const first = pool.take(python);
    expect(first).toBeInstanceOf(FakeSandbox);
    await settle();
    const second = pool.take(python);
    expect(second).not.toBe(first);
    expect(pool.statistics()).toMatchObject({ hits: 2, misses: 1 });
    await settle(); // a hit refills once its code has started
    expect(started.length).toBeGreaterThanOrEqual(3);
    await pool.close();
  });

  it('grows with the request rate up to the per-key bound and never past the global bound', async () => {
    const { pool, advance } = createPool({ maxSlots: 6, maxSlotsPerKey: 4 });
    for (let request = 0; request < 400; request++) {
      pool.take(python);
      pool.take(node);
      advance(5); // 200 requests/s per key, for about 2 s
      await settle();
    }
    expect(pool.target(python)).toBe(4);
    const statistics = pool.statistics();
    expect(statistics.readySlots + statistics.startingSlots).toBeLessThanOrEqual(6);
    await pool.close();
  });

  it('keeps one ready sandbox for a key used now and then', async () => {
    const { pool, advance } = createPool();
    pool.take(python);
    await settle();
    advance(20_000);
    pool.take(python);
    await settle();
    expect(pool.target(python)).toBe(1);
    expect(pool.statistics(), JSON.stringify(pool.statistics())).toMatchObject({ readySlots: 1, startingSlots: 0 });
    await pool.close();
  });

  it("drop destroys an image's ready sandboxes and those still starting, and keeps other images'", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const started: FakeSandbox[] = [];
    const pool = new WarmPool({
      prepare: async (key) => {
        const sandbox = new FakeSandbox(key);
        started.push(sandbox);
        if (started.length > 2) await gate;
        return sandbox;
      },
      maxSlots: 10,
      maxSlotsPerKey: 4,
      maxConcurrentRefills: 4,
      idleMs: 60_000,
    });
    const other: PoolKey = { image: 'imported', language: 'python', limits };
    pool.take(python);
    pool.take(other);
    await settle();
    const ready = started.slice(0, 2);
    pool.take(python); // hands out the ready one and starts another, which waits at the gate
    await settle();
    await pool.drop((key) => key.image === 'default');
    release();
    await settle();
    await settle();
    const defaults = started.filter((sandbox) => sandbox.key.image === 'default');
    expect(defaults.filter((sandbox) => !sandbox.destroyed && sandbox !== ready[0]).length).toBe(0);
    expect(started.filter((sandbox) => sandbox.key.image === 'imported').every((sandbox) => !sandbox.destroyed)).toBe(true);
    expect(pool.statistics().keys.map((key) => key.key)).toEqual([expect.stringMatching(/^imported\//)]);
    await pool.close();
  });

  it('drains an idle key to zero', async () => {
    const { pool, advance, started } = createPool({ idleMs: 1000 });
    pool.take(python);
    await settle();
    expect(pool.statistics().readySlots).toBe(1);
    advance(1001);
    pool.trim();
    expect(pool.statistics()).toMatchObject({ readySlots: 0, keys: [] });
    expect(started.every((sandbox) => sandbox.destroyed)).toBe(true);
    await pool.close();
  });

  it('skips sandboxes that died while waiting', async () => {
    const { pool, started } = createPool();
    pool.take(python);
    await settle();
    started[0]!.exited = true;
    expect(pool.take(python)).toBeUndefined();
    expect(started[0]!.destroyed).toBe(true);
    await pool.close();
  });

  it('backs off after a failed refill instead of retrying in a loop', async () => {
    let attempts = 0;
    const errors: unknown[] = [];
    const { pool, advance } = createPool({
      prepare: async () => {
        attempts++;
        throw new Error('no sandbox today');
      },
      onRefillError: (error) => errors.push(error),
    });
    pool.take(python);
    for (let turn = 0; turn < 20; turn++) await settle();
    expect(attempts).toBe(1);
    expect(errors).toHaveLength(1);
    advance(250);
    pool.take(python);
    await settle();
    expect(attempts).toBe(2);
    expect(pool.statistics().refillFailures).toBe(2);
    await pool.close();
  });

  it('close destroys the ready sandboxes and stops refilling', async () => {
    const { pool, started } = createPool();
    pool.take(python);
    await settle();
    await pool.close();
    expect(started.every((sandbox) => sandbox.destroyed)).toBe(true);
    expect(pool.take(python)).toBeUndefined();
    await settle();
    expect(started).toHaveLength(1);
  });
});
