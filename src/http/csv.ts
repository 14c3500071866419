/**
 * CSV as RFC 4180 writes it (fields quoted when they hold a comma, a quote or a line break; quotes doubled;
 * CRLF between records), made safe to open in a spreadsheet.
 */

/**
 * Spreadsheets run a cell that begins with = + - @ (and, in some, a tab or carriage return) as a formula,
 * so an attacker who can put text in the audit log (an email typed at the sign-in form, a User-Agent) could
 * run one on the admin's machine. A leading apostrophe makes the cell text (OWASP "CSV injection").
 */
const FORMULA_START = /^[=+\-@\t\r]/

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value)
  if (FORMULA_START.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`
}
