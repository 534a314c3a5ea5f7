import type { PoolStatistics } from '@airlock/runtime';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const OVERHEAD_BUCKETS_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface MetricsSources {
  poolStatistics(): PoolStatistics | null;
  activeSandboxes(): number;
  /** The nodes sharing the database and taking work, as this node last saw them, and whether this one drains. */
  nodes?(): { active: number; draining: boolean };
}

/** The server's Prometheus metrics (GET /metrics): executions, sandbox overhead, the warm pool and the process. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #executions: Counter<'language' | 'status' | 'warm'>;
  readonly #overhead: Histogram<'language' | 'warm'>;
  readonly #webhookAttempts: Counter<'outcome'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#executions = new Counter({
      name: 'airlock_executions_total',
      help: 'Finished executions by language, status and whether a pre-started sandbox ran them.',
      labelNames: ['language', 'status', 'warm'],
      registers,
    });
    this.#overhead = new Histogram({
      name: 'airlock_execution_overhead_seconds',
      help: 'Time from accepting an execute request to the code running in its sandbox.',
      labelNames: ['language', 'warm'],
      buckets: OVERHEAD_BUCKETS_SECONDS,
      registers,
    });
    this.#webhookAttempts = new Counter({
      name: 'airlock_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry (failed, tried again later) or failed (the last one).',
      labelNames: ['outcome'],
      registers,
    });
    new Gauge({
      name: 'airlock_sandboxes_active',
      help: 'Sandboxes that exist now: running code, ready in the warm pool or starting.',
      registers,
      collect() {
        this.set(sources.activeSandboxes());
      },
    });
    const poolTotal = (name: string, help: string, read: (statistics: PoolStatistics) => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const statistics = sources.poolStatistics();
          this.reset();
          if (statistics) this.inc(read(statistics));
        },
      });
    };
    poolTotal('airlock_pool_hits_total', 'Executions that took a pre-started sandbox.', (s) => s.hits);
    poolTotal('airlock_pool_misses_total', 'Executions that found the pool empty and started a cold sandbox.', (s) => s.misses);
    poolTotal('airlock_pool_refills_total', 'Sandboxes the pool started in the background.', (s) => s.refills);
    poolTotal('airlock_pool_refill_failures_total', 'Background sandbox starts that failed.', (s) => s.refillFailures);
    poolTotal(
      'airlock_pool_refill_seconds_total',
      'Time spent starting pool sandboxes until their interpreter waited for code, summed over refills.',
      (s) => s.totalRefillMs / 1000,
    );
    new Gauge({
      name: 'airlock_pool_slots',
      help: 'Pool sandboxes per pool key (image, language, limits) and state: ready, starting, or the target size.',
      labelNames: ['key', 'state'],
      registers,
      collect() {
        this.reset();
        for (const key of sources.poolStatistics()?.keys ?? []) {
          this.set({ key: key.key, state: 'ready' }, key.ready);
          this.set({ key: key.key, state: 'starting' }, key.starting);
          this.set({ key: key.key, state: 'target' }, key.target);
        }
      },
    });
    const { nodes } = sources;
    if (nodes) {
      new Gauge({
        name: 'airlock_nodes_active',
        help: 'Server nodes sharing the database and taking work (not draining), as of this node\'s last heartbeat: the divisor of the limits.',
        registers,
        collect() {
          this.set(nodes().active);
        },
      });
      new Gauge({
        name: 'airlock_node_draining',
        help: '1 while this node drains (it takes no new execution and its readiness fails), else 0.',
        registers,
        collect() {
          this.set(nodes().draining ? 1 : 0);
        },
      });
    }
  }

  recordWebhookAttempt(outcome: 'delivered' | 'retry' | 'failed'): void {
    this.#webhookAttempts.inc({ outcome });
  }

  recordExecution(execution: { language: string; status: string; warm: boolean; overheadMs: number | null }): void {
    const warm = String(execution.warm);
    this.#executions.inc({ language: execution.language, status: execution.status, warm });
    if (execution.overheadMs !== null) {
      this.#overhead.observe({ language: execution.language, warm }, execution.overheadMs / 1000);
    }
  }
}
