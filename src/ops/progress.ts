/** How far a long operation (backup, restore) has come, for a progress bar or a log line. */
export interface Progress {
  /** Which part of the work: each phase counts from 0 to its own total. */
  phase: 'database' | 'blobs'
  done: number
  total: number
  unit: 'rows' | 'bytes'
}

export type ProgressListener = (progress: Progress) => void
