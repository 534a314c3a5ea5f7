import type { AttemptOutcome, ClaimedDelivery, WebhookRepository } from '@airlock/db';
import type { WebhookConfig } from '../config.js';
import { isFinished, webhookPayload } from '../executions/execution-records.js';
import type { Logger } from '../shared/logger.js';
import type { WebhookSecrets } from './webhook-secrets.js';
import type { DestinationPolicy } from './webhook-destination.js';
import { WebhookSender, type SendResult } from './webhook-sender.js';

const MAX_RETRY_DELAY_MS = 60 * 60 * 1000;
/** Deliveries attempted at once by one node. */
const CONCURRENCY = 8;

export interface WebhookDispatcherOptions {
  deliveries: WebhookRepository;
  secrets: WebhookSecrets;
  policy: DestinationPolicy;
  nodeId: string;
  logger: Logger;
  /** Attempts per delivery before it is marked failed. */
  maxAttempts: number;
  /** Delay before the first retry; each later one doubles it (capped at an hour), with ±20% jitter. */
  retryBaseMs: number;
  /** How long one attempt may take. */
  attemptTimeoutMs: number;
  /** How often the outbox is checked for due deliveries (retries, other nodes' and earlier runs' deliveries). */
  pollMs: number;
  /** Told the outcome of each recorded attempt (for metrics). */
  onAttempt?: (outcome: 'delivered' | 'retry' | 'failed') => void;
}

/** The dispatcher's attempts and timing, from the server's webhook settings (AIRLOCK_WEBHOOK_*). */
export function dispatcherTiming(settings: WebhookConfig): Pick<WebhookDispatcherOptions, 'maxAttempts' | 'retryBaseMs' | 'attemptTimeoutMs' | 'pollMs'> {
  return {
    maxAttempts: settings.maxAttempts,
    retryBaseMs: settings.retryBaseSeconds * 1000,
    attemptTimeoutMs: settings.attemptTimeoutSeconds * 1000,
    pollMs: Math.min(2000, settings.retryBaseSeconds * 1000),
  };
}

/**
 * Delivers the webhook outbox. Any node delivers any pending delivery: each is claimed in the database for the
 * length of an attempt, then its attempt and outcome are recorded in one statement. A node that stops mid-attempt
 * leaves a claim that lapses (or that it releases when it starts again), so the delivery is retried.
 */
export class WebhookDispatcher {
  readonly #options: WebhookDispatcherOptions;
  readonly #sender: WebhookSender;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  #poller: NodeJS.Timeout | undefined;
  #pass: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#options = options;
    this.#sender = new WebhookSender({ policy: options.policy, timeoutMs: options.attemptTimeoutMs });
  }

  start(): void {
    this.#poller = setInterval(() => this.kick(), this.#options.pollMs);
    this.#poller.unref();
    this.kick();
  }

  /** Looks for due deliveries now (after an execution queued one). */
  kick(): void {
    if (this.#closed) return;
    if (this.#pass) {
      this.#again = true;
      return;
    }
    this.#pass = this.#run().finally(() => {
      this.#pass = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** Stops looking for work and waits for the attempts under way. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#poller);
    for (const timer of this.#timers) clearTimeout(timer);
    await this.#pass;
    await Promise.all(this.#inFlight);
    this.#sender.close();
  }

  /** Claims due deliveries while fewer than CONCURRENCY attempts are under way; each one that ends looks again. */
  async #run(): Promise<void> {
    const claimSeconds = Math.ceil(this.#options.attemptTimeoutMs / 1000) + 30;
    try {
      while (!this.#closed && this.#inFlight.size < CONCURRENCY) {
        const limit = CONCURRENCY - this.#inFlight.size;
        const claimed = await this.#options.deliveries.claimDue(this.#options.nodeId, { limit, claimSeconds });
        if (claimed.length === 0) return;
        for (const delivery of claimed) {
          const attempt: Promise<void> = this.#attempt(delivery)
            .catch((error: unknown) => this.#options.logger.warn('webhook attempt not recorded', { traceId: delivery.traceId, error: String(error) }))
            .finally(() => {
              this.#inFlight.delete(attempt);
              this.kick();
            });
          this.#inFlight.add(attempt);
        }
      }
    } catch (error) {
      this.#options.logger.warn('webhook outbox pass failed', { error: String(error) });
    }
  }

  async #attempt(delivery: ClaimedDelivery): Promise<void> {
    const options = this.#options;
    const attempt = delivery.attempts + 1;
    const attemptedAt = new Date();
    const result = await this.#send(delivery).catch(
      (error: unknown): SendResult => ({ ok: false, statusCode: null, error: `delivery failed: ${String(error)}`, durationMs: 0 }),
    );
    const outcome: AttemptOutcome = result.ok
      ? { status: 'delivered' }
      : attempt >= options.maxAttempts
        ? { status: 'failed' }
        : { status: 'pending', retryAt: new Date(Date.now() + retryDelayMs(attempt, options.retryBaseMs)) };
    const recorded = await options.deliveries.recordAttempt(
      delivery.traceId,
      options.nodeId,
      { attempt, attemptedAt, statusCode: result.statusCode, error: result.error, durationMs: result.durationMs },
      outcome,
    );
    if (!recorded) return;
    options.onAttempt?.(outcome.status === 'pending' ? 'retry' : outcome.status);
    if (outcome.status === 'failed') {
      options.logger.warn('webhook delivery failed for good', { traceId: delivery.traceId, attempts: attempt, error: result.error });
    } else if (outcome.status === 'pending') {
      this.#wakeAt(outcome.retryAt);
    }
  }

  async #send(delivery: ClaimedDelivery): Promise<SendResult> {
    const { execution, sealedSecret } = delivery;
    if (!execution || !isFinished(execution)) throw new Error('the execution record is missing or unfinished');
    const configId = execution.sandboxConfigId;
    const secret =
      configId === null ? null : sealedSecret === null ? await this.#options.secrets.get(configId) : this.#options.secrets.open(configId, sealedSecret);
    if (secret === null) return { ok: false, statusCode: null, error: 'the sandbox config (and its signing secret) is gone', durationMs: 0 };
    return this.#sender.send({ id: delivery.traceId, url: delivery.url, payload: webhookPayload(execution), secret });
  }

  #wakeAt(time: Date): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.kick();
    }, Math.max(0, time.getTime() - Date.now()));
    timer.unref();
    this.#timers.add(timer);
  }
}

/** Exponential backoff with ±20% jitter: base, 2 base, 4 base, ... at most an hour. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  const delay = Math.min(baseMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
  return Math.round(delay * (0.8 + Math.random() * 0.4));
}
