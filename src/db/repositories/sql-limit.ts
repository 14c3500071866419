import { type RawBuilder, sql } from 'kysely'

/**
 * A LIMIT for a raw statement, written into its SQL rather than bound: SQLite re-plans a statement whose
 * LIMIT is a parameter every time it runs (LiteralLimitSqliteCompiler says why; builder queries get the same
 * from it). Only a whole number ever reaches the SQL text.
 */
export function sqlLimit(n: number): RawBuilder<unknown> {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a limit must be a whole number, not ${n}`)
  return sql.lit(n)
}
