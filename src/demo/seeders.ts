import type { AppContext } from '../app-context.ts'

/** A step of the fictional demo dataset; later capabilities append theirs to DEMO_SEEDERS. */
export interface DemoSeeder {
  name: string
  seed(ctx: AppContext): Promise<void>
}

export const DEMO_LABEL = '[DEMO · fictional]'
