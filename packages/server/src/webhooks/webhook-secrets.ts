import { randomBytes } from 'node:crypto';
import type { WebhookRepository } from '@airlock/db';
import type { SecretBox } from '../shared/secret-box.js';

/** Each sandbox config's Standard Webhooks signing secret (`whsec_...`), sealed at rest, made on first use. */
export class WebhookSecrets {
  readonly #repository: WebhookRepository;
  readonly #box: SecretBox;

  constructor(options: { repository: WebhookRepository; box: SecretBox }) {
    this.#repository = options.repository;
    this.#box = options.box;
  }

  /** The config's secret, created when it has none; null when the config does not exist. */
  async get(sandboxConfigId: string): Promise<string | null> {
    const sealed =
      (await this.#repository.sealedSecret(sandboxConfigId)) ??
      (await this.#repository.storeSecret(sandboxConfigId, this.#seal(sandboxConfigId, newSecret()), { replace: false }));
    return sealed === null ? null : this.open(sandboxConfigId, sealed);
  }

  /** The secret in `sealed`, the value stored for the config (as a claimed delivery carries it). */
  open(sandboxConfigId: string, sealed: string): string {
    return this.#box.open(sealed, context(sandboxConfigId));
  }

  /** Replaces the config's secret; deliveries from now on are signed with the new one. Null for an unknown config. */
  async rotate(sandboxConfigId: string): Promise<string | null> {
    const secret = newSecret();
    const stored = await this.#repository.storeSecret(sandboxConfigId, this.#seal(sandboxConfigId, secret), { replace: true });
    return stored === null ? null : secret;
  }

  #seal(sandboxConfigId: string, secret: string): string {
    return this.#box.seal(secret, context(sandboxConfigId));
  }
}

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

function context(sandboxConfigId: string): string {
  return `sandbox_configs.webhook_secret:${sandboxConfigId}`;
}
