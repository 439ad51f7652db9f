/**
 * A WHERE clause built from optional filters, every value bound as a query parameter (never spliced into SQL).
 * The history, migration and audit lists share it.
 */
export class BoundFilter {
  private readonly conditions: string[] = [];
  readonly params: Record<string, unknown>;

  constructor(paging: { limit: number; offset: number }) {
    this.params = { limit: paging.limit, offset: paging.offset };
  }

  /** Adds `condition` (which uses `{name:String}`) when `value` is set. */
  when(name: string, value: string | undefined, condition: string): this {
    if (value) {
      this.conditions.push(condition);
      this.params[name] = value;
    }
    return this;
  }

  equals(column: string, name: string, value: string | undefined): this {
    return this.when(name, value, `${column} = {${name}:String}`);
  }

  /** Case-insensitive substring search over `columns` (expressions giving String). */
  search(value: string | undefined, columns: string[]): this {
    return this.when('search', value, `(${columns.map((c) => `positionCaseInsensitiveUTF8(${c}, {search:String}) > 0`).join(' OR ')})`);
  }

  get where(): string {
    return this.conditions.length ? `WHERE ${this.conditions.join(' AND ')}` : '';
  }
}
