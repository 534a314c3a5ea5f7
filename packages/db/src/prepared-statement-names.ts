/** Most statement texts one process prepares by name. */
const MAX_NAMED = 256;
/** Most texts remembered as run once, waiting for a second run. */
const MAX_SEEN_ONCE = 4096;

/**
 * Names for the statements a connection prepares once and then only binds and executes: the embedded database
 * (PGlite) spends more time parsing and planning a statement than running it. A statement text is named on its
 * second run, and at most MAX_NAMED texts are, so statements made up at run time (filters, lists of values) cannot
 * fill the database's memory with plans.
 */
export class PreparedStatementNames {
  readonly #names = new Map<string, string>();
  readonly #seenOnce = new Set<string>();

  /** The name to prepare `sql` under, or undefined to run it unnamed. */
  name(sql: string): string | undefined {
    const name = this.#names.get(sql);
    if (name !== undefined || this.#names.size >= MAX_NAMED) return name;
    if (!this.#seenOnce.delete(sql)) {
      if (this.#seenOnce.size >= MAX_SEEN_ONCE) this.#seenOnce.clear();
      this.#seenOnce.add(sql);
      return undefined;
    }
    const named = `airlock_${this.#names.size + 1}`;
    this.#names.set(sql, named);
    return named;
  }
}
