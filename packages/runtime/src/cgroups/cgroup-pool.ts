import type { CgroupHierarchy, CgroupLimits, CgroupSlot } from './cgroup-types.js';

/** Hands out emptied cgroups for reuse, so a sandbox costs a few control-file writes instead of a mkdir per hierarchy. */
export class CgroupPool {
  readonly #hierarchy: CgroupHierarchy;
  readonly #free: CgroupSlot[] = [];
  readonly #leased = new Set<CgroupSlot>();
  #counter = 0;

  constructor(hierarchy: CgroupHierarchy) {
    this.#hierarchy = hierarchy;
  }

  get version(): 1 | 2 {
    return this.#hierarchy.version;
  }

  get leasedCount(): number {
    return this.#leased.size;
  }

  async lease(limits: CgroupLimits): Promise<CgroupSlot> {
    const slot = this.#free.pop() ?? (await this.#hierarchy.createSlot(`slot-${this.#counter++}`));
    this.#leased.add(slot);
    try {
      await slot.prepare(limits);
    } catch (error) {
      this.#leased.delete(slot);
      await slot.remove().catch(() => undefined);
      throw error;
    }
    return slot;
  }

  /** Empties the slot and keeps it for the next lease; a slot that cannot be emptied is removed. */
  async release(slot: CgroupSlot): Promise<void> {
    if (!this.#leased.delete(slot)) return;
    try {
      await slot.killAll();
      this.#free.push(slot);
    } catch {
      await slot.remove().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    for (const slot of this.#leased) await slot.killAll().catch(() => undefined);
    this.#leased.clear();
    this.#free.length = 0;
    await this.#hierarchy.destroy();
  }
}
