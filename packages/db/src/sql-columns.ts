/** `alias.column AS prefixcolumn, ...` for selecting one table's columns in a join without name clashes. */
export function selectColumns(columns: readonly string[], options: { tableAlias: string; prefix: string }): string {
  return columns.map((column) => `${options.tableAlias}.${column} AS ${options.prefix}${column}`).join(', ');
}

/** The columns of `row` whose names start with `prefix`, with the prefix removed (the inverse of selectColumns). */
export function unprefixRow(row: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const unprefixed: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    if (column.startsWith(prefix)) unprefixed[column.slice(prefix.length)] = value;
  }
  return unprefixed;
}
