import { type LimitNode, type OffsetNode, type OperationNode, SqliteQueryCompiler } from 'kysely'

/**
 * Writes a LIMIT or OFFSET that is a whole number into the SQL instead of binding it. SQLite 3.54 plans with
 * a bound LIMIT's value, and so marks the statement to be compiled again whenever that parameter is bound,
 * which better-sqlite3 does on every run: a cached statement with `limit ?` was re-planned each time (a third of
 * the time of a page of observations at 1M rows; bench/README.md, `api`). A literal keeps the plan, and the
 * few distinct page sizes each get their own cached statement. Anything else (an expression, a non-integer)
 * stays a parameter.
 */
export class LiteralLimitSqliteCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    if (!this.#appendInteger('limit ', node.limit)) super.visitLimit(node)
  }

  protected override visitOffset(node: OffsetNode): void {
    if (!this.#appendInteger('offset ', node.offset)) super.visitOffset(node)
  }

  #appendInteger(keyword: string, node: OperationNode): boolean {
    if (node.kind !== 'ValueNode') return false
    const value = (node as OperationNode & { value: unknown }).value
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return false
    this.append(`${keyword}${value}`)
    return true
  }
}
