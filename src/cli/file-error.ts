/** One line saying why a file could not be handled: the common file-system causes in words, else the error's first line. */
export function fileErrorReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'is a directory'
  if (code === 'EACCES') return 'permission denied'
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!
}
