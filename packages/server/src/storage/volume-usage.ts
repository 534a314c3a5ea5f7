import type { VolumeRepository } from '@airlock/db';
import type { Logger } from '../shared/logger.js';
import type { VolumeStore } from './volume-store.js';

export interface VolumeUsageOptions {
  volumes: Pick<VolumeStore, 'measure'>;
  repository: Pick<VolumeRepository, 'recordUsage'>;
  logger: Logger;
  /** How long one measurement may take; a volume that takes longer keeps its last recorded usage. */
  budgetMs: number;
}

/** A volume's quota as a call or an upload sees it. */
export interface VolumeQuota {
  volumeId: string;
  slug: string;
  /** Null: no quota. */
  quotaBytes: number | null;
  /** As recorded when the attachments were read; null: never measured. */
  usedBytes: number | null;
}

/** A volume at or over its quota, or that `adding` bytes would take over it. */
export interface QuotaExcess {
  usedBytes: number;
  quotaBytes: number;
}

/**
 * The usage of managed volumes (docs/decisions/0022-storage-mounts.md): measured in the background after a call that
 * could write a volume and after Files API changes, recorded in `volumes.used_bytes`, and remembered by this node so
 * that its next call or upload sees the measurement at once. One measurement per volume at a time; changes made while
 * one runs are measured once more after it.
 */
export class VolumeUsage {
  readonly #options: VolumeUsageOptions;
  readonly #latest = new Map<string, number>();
  /** Volumes being measured; true when they changed since the running measurement began. */
  readonly #running = new Map<string, boolean>();
  readonly #measurements = new Set<Promise<void>>();

  constructor(options: VolumeUsageOptions) {
    this.#options = options;
  }

  /** Measures the volume and records its usage, off the caller's path; never rejects. */
  measureSoon(organizationId: string, volumeId: string): void {
    if (this.#running.has(volumeId)) {
      this.#running.set(volumeId, true);
      return;
    }
    this.#running.set(volumeId, false);
    const measurement = this.#measure(organizationId, volumeId).finally(() => this.#measurements.delete(measurement));
    this.#measurements.add(measurement);
  }

  /** Resolves once no measurement is running. */
  async idle(): Promise<void> {
    while (this.#measurements.size > 0) await Promise.all(this.#measurements);
  }

  /** The excess when the volume has a quota and its usage (this node's latest measurement, else the recorded one) plus `adding` passes it, or is at it already. */
  excess(volume: VolumeQuota, adding = 0): QuotaExcess | undefined {
    if (!volume.quotaBytes) return undefined;
    const usedBytes = this.#latest.get(volume.volumeId) ?? volume.usedBytes ?? 0;
    if (usedBytes < volume.quotaBytes && usedBytes + adding <= volume.quotaBytes) return undefined;
    return { usedBytes, quotaBytes: volume.quotaBytes };
  }

  async #measure(organizationId: string, volumeId: string): Promise<void> {
    const { volumes, repository, logger, budgetMs } = this.#options;
    try {
      for (;;) {
        const measuredAt = new Date();
        try {
          const usedBytes = await volumes.measure(organizationId, volumeId, budgetMs);
          this.#latest.set(volumeId, usedBytes);
          await repository.recordUsage(organizationId, volumeId, usedBytes, measuredAt);
        } catch (error) {
          logger.warn('volume usage not measured', { volumeId, error: error instanceof Error ? error.message : String(error) });
        }
        if (!this.#running.get(volumeId)) return;
        this.#running.set(volumeId, false);
      }
    } finally {
      this.#running.delete(volumeId);
    }
  }
}

/** How a quota excess reads in messages: the volume, its usage and its quota in bytes. */
export function describeExcess(slug: string, excess: QuotaExcess): string {
  return `volume "${slug}" holds ${excess.usedBytes} bytes of its ${excess.quotaBytes}-byte quota`;
}
