/**
 * A WHERE clause built from optional filters, with every value bound as a positional parameter (never spliced into
 * the SQL text). Each `?` in a condition takes the next of its values, in order.
 *
 * @example
 * ```ts
 * const c = new SqlConditions();
 * if (filter.status) c.add('status = ?', filter.status);
 * if (filter.after) c.add('(created_at, id) < (?::timestamptz, ?::uuid)', filter.after.createdAt, filter.after.id);
 * await db.query(`SELECT … FROM t ${c.where()} ORDER BY id DESC LIMIT ${c.param(filter.limit)}`, c.params);
 * ```
 */
export class SqlConditions {
  /** The values, in placeholder order: pass them as the query's parameters. */
  readonly params: unknown[] = [];
  readonly #conditions: string[];

  /** `always`: conditions without values that every row must meet (e.g. `duplicate_of IS NULL`). */
  constructor(...always: string[]) {
    this.#conditions = [...always];
  }

  /** Add a condition; its `?` placeholders take `values` in order. */
  add(sql: string, ...values: unknown[]): void {
    let next = 0;
    this.#conditions.push(sql.replace(/\?/g, () => this.param(values[next++])));
  }

  /** Bind one more value (e.g. a LIMIT) and return its placeholder (`$3`). */
  param(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  /** `WHERE a AND b …`, or nothing when no condition was added. */
  where(): string {
    return this.#conditions.length === 0 ? '' : `WHERE ${this.#conditions.join(' AND ')}`;
  }
}
