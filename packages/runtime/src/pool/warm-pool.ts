import type { PreparedSandbox, SandboxLanguage, SandboxLimits, SandboxNetworkMode, SandboxStart } from '../sandbox/sandbox-types.js';

/** What makes two sandboxes interchangeable before code arrives. */
export interface PoolKey {
  image: string;
  language: SandboxLanguage;
  limits: SandboxLimits;
  /** @default 'none' */
  network?: SandboxNetworkMode;
  /**
   * `fresh`: bubblewrap starts the interpreter. `fork`: a fork of a template interpreter that has imported the data
   * stack (docs/decisions/0033-fork-tier.md); python in sandboxes without network only, others start fresh.
   * @default 'fresh'
   */
  start?: SandboxStart;
}

export interface WarmPoolOptions {
  /** Starts a sandbox for a key; the pool waits for `ready` before handing it out. */
  prepare: (key: PoolKey) => Promise<PreparedSandbox>;
  /** Ready sandboxes kept across all keys (each holds an interpreter's memory). */
  maxSlots: number;
  /** Ready sandboxes kept for one key. */
  maxSlotsPerKey: number;
  /** Sandboxes started at the same time by refills, so refills leave CPU to running code. */
  maxConcurrentRefills: number;
  /** A key without requests for this long has its slots destroyed. */
  idleMs: number;
  /** Whether the host can hold another pre-started sandbox; refills wait while it cannot. */
  hasMemoryForRefill?: () => boolean;
  /** Called when a refill fails; the pool backs off and tries again later. */
  onRefillError?: (error: unknown) => void;
  now?: () => number;
}

export interface PoolStatistics {
  hits: number;
  misses: number;
  refills: number;
  refillFailures: number;
  /** Mean time from starting a sandbox to its interpreter waiting for code. */
  meanRefillMs: number;
  /** Sum of those times over all refills. */
  totalRefillMs: number;
  readySlots: number;
  startingSlots: number;
  keys: Array<{ key: string; ready: number; starting: number; target: number; requestsPerSecond: number }>;
}

interface KeyState {
  key: PoolKey;
  ready: PreparedSandbox[];
  starting: number;
  /** Exponentially weighted request rate, per second. */
  rate: number;
  lastRequestAt: number;
  failures: number;
  retryAt: number;
  /** Dropped from the pool: a refill still running destroys what it started. */
  dropped?: boolean;
}

/** Assumed time to start a sandbox before one has been measured, and the least the sizing assumes. */
const INITIAL_REFILL_MS = 100;
const MINIMUM_REFILL_SECONDS = 0.02;

/** How fast the request-rate estimate forgets: fast enough to follow a burst, slow enough to ride out gaps. */
const RATE_HALF_LIFE_MS = 2_000;

/**
 * Pre-started, single-use sandboxes. `take` hands out a sandbox whose interpreter already waits for code and starts
 * a replacement in the background; a sandbox is never reused. Each key's target size follows its request rate (enough
 * ready sandboxes to cover the requests that arrive while one refill runs, at least one while the key is in use), and
 * a key left idle drains to zero.
 */
export class WarmPool {
  readonly #options: WarmPoolOptions;
  readonly #keys = new Map<string, KeyState>();
  readonly #now: () => number;
  #refillsRunning = 0;
  #closed = false;
  #hits = 0;
  #misses = 0;
  #refills = 0;
  #refillFailures = 0;
  #refillMsTotal = 0;
  /** Exponentially weighted refill time, so one slow start does not size the pool for long. */
  #recentRefillMs = INITIAL_REFILL_MS;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(options: WarmPoolOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#sweepTimer = setInterval(() => this.trim(), Math.max(1000, options.idleMs / 4));
    this.#sweepTimer.unref();
  }

  /** A ready sandbox for `key`, or undefined (the caller starts one itself); either way the pool adapts and refills. */
  take(key: PoolKey): PreparedSandbox | undefined {
    if (this.#closed) return undefined;
    const state = this.#state(key);
    const now = this.#now();
    const elapsed = Math.max(now - state.lastRequestAt, 1);
    const decay = Math.pow(0.5, elapsed / RATE_HALF_LIFE_MS);
    state.rate = state.rate * decay + (1000 / RATE_HALF_LIFE_MS) * Math.LN2;
    state.lastRequestAt = now;
    let sandbox = state.ready.shift();
    while (sandbox && !sandbox.isAlive) {
      void sandbox.destroy();
      sandbox = state.ready.shift();
    }
    if (sandbox) {
      this.#hits++;
      // A refill takes CPU (bubblewrap and interpreter start-up); starting it once the code runs keeps it off the
      // request's path.
      void sandbox.codeStarted.then(() => this.#schedule());
    } else {
      this.#misses++;
      this.#schedule();
    }
    return sandbox;
  }

  /** Number of ready sandboxes the pool aims to keep for a key. */
  target(key: PoolKey): number {
    const state = this.#keys.get(serializeKey(key));
    return state ? this.#targetOf(state) : 0;
  }

  statistics(): PoolStatistics {
    const keys = [...this.#keys.entries()].map(([name, state]) => ({
      key: name,
      ready: state.ready.length,
      starting: state.starting,
      target: this.#targetOf(state),
      requestsPerSecond: Math.round(this.#currentRate(state) * 100) / 100,
    }));
    return {
      hits: this.#hits,
      misses: this.#misses,
      refills: this.#refills,
      refillFailures: this.#refillFailures,
      meanRefillMs: this.#refills === 0 ? 0 : this.#refillMsTotal / this.#refills,
      totalRefillMs: this.#refillMsTotal,
      readySlots: keys.reduce((sum, key) => sum + key.ready, 0),
      startingSlots: keys.reduce((sum, key) => sum + key.starting, 0),
      keys,
    };
  }

  /** Destroys the ready sandboxes of the keys `matches` selects and forgets those keys (an image going away). */
  async drop(matches: (key: PoolKey) => boolean): Promise<void> {
    const sandboxes: PreparedSandbox[] = [];
    for (const [name, state] of this.#keys) {
      if (!matches(state.key)) continue;
      state.dropped = true;
      sandboxes.push(...state.ready.splice(0));
      this.#keys.delete(name);
    }
    await Promise.all(sandboxes.map((sandbox) => sandbox.destroy()));
  }

  /** Destroys every ready sandbox and stops refilling; sandboxes still starting are destroyed when they are ready. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweepTimer);
    const sandboxes = [...this.#keys.values()].flatMap((state) => state.ready.splice(0));
    await Promise.all(sandboxes.map((sandbox) => sandbox.destroy()));
    while (this.#refillsRunning > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  #state(key: PoolKey): KeyState {
    const name = serializeKey(key);
    let state = this.#keys.get(name);
    if (!state) {
      state = { key, ready: [], starting: 0, rate: 0, lastRequestAt: this.#now(), failures: 0, retryAt: 0 };
      this.#keys.set(name, state);
    }
    return state;
  }

  #currentRate(state: KeyState): number {
    return state.rate * Math.pow(0.5, Math.max(this.#now() - state.lastRequestAt, 0) / RATE_HALF_LIFE_MS);
  }

  #targetOf(state: KeyState): number {
    if (this.#now() - state.lastRequestAt > this.#options.idleMs) return 0;
    const refillSeconds = Math.max(this.#recentRefillMs / 1000, MINIMUM_REFILL_SECONDS);
    const wanted = Math.ceil(this.#currentRate(state) * refillSeconds * 2);
    return Math.min(Math.max(wanted, 1), this.#options.maxSlotsPerKey);
  }

  #totalSlots(): number {
    let total = 0;
    for (const state of this.#keys.values()) total += state.ready.length + state.starting;
    return total;
  }

  /** Starts refills while some key is below its target and the global bounds allow. */
  #schedule(): void {
    if (this.#closed) return;
    for (;;) {
      if (this.#refillsRunning >= this.#options.maxConcurrentRefills) return;
      if (this.#totalSlots() >= this.#options.maxSlots) return;
      if (this.#options.hasMemoryForRefill && !this.#options.hasMemoryForRefill()) return;
      const now = this.#now();
      const candidates = [...this.#keys.values()].filter(
        (state) => state.retryAt <= now && state.ready.length + state.starting < this.#targetOf(state),
      );
      // The key furthest below its target first.
      candidates.sort((a, b) => a.ready.length + a.starting - this.#targetOf(a) - (b.ready.length + b.starting - this.#targetOf(b)));
      const state = candidates[0];
      if (!state) return;
      void this.#refill(state);
    }
  }

  async #refill(state: KeyState): Promise<void> {
    state.starting++;
    this.#refillsRunning++;
    const startedAt = this.#now();
    try {
      const sandbox = await this.#options.prepare(state.key);
      try {
        await sandbox.ready;
      } catch (error) {
        await sandbox.destroy();
        throw error;
      }
      const refillMs = this.#now() - startedAt;
      this.#refills++;
      this.#refillMsTotal += refillMs;
      this.#recentRefillMs = this.#recentRefillMs * 0.8 + refillMs * 0.2;
      state.failures = 0;
      if (this.#closed || state.dropped || state.ready.length >= this.#targetOf(state)) await sandbox.destroy();
      else state.ready.push(sandbox);
    } catch (error) {
      this.#refillFailures++;
      state.failures++;
      state.retryAt = this.#now() + Math.min(30_000, 100 * 2 ** state.failures);
      this.#options.onRefillError?.(error);
    } finally {
      state.starting--;
      this.#refillsRunning--;
      this.#schedule();
    }
  }

  /** Destroys sandboxes beyond each key's target (idle keys drain to zero) and forgets keys with nothing left. */
  trim(): void {
    for (const [name, state] of this.#keys) {
      const excess = state.ready.length - this.#targetOf(state);
      for (const sandbox of state.ready.splice(0, Math.max(excess, 0))) void sandbox.destroy();
      if (state.ready.length === 0 && state.starting === 0 && this.#targetOf(state) === 0) this.#keys.delete(name);
    }
  }
}

export function serializeKey(key: PoolKey): string {
  const { limits } = key;
  return `${key.image}/${key.language}/cpu=${limits.cpus}/mem=${limits.memoryBytes}/pids=${limits.pids}/tmp=${limits.tmpBytes}/home=${limits.homeBytes}/net=${key.network ?? 'none'}/start=${key.start ?? 'fresh'}`;
}
