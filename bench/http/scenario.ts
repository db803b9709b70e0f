import type { HttpContext } from './context';
import type { ScenarioResult } from './results';

export type ScenarioOutcome = Pick<ScenarioResult, 'measurements' | 'targets' | 'notes'> | { skipped: string };

/** One HTTP scenario: measured against the baseline in the same run, printed side by side. */
export interface HttpScenario {
  name: string;
  title: string;
  /** Items each request carries (a batch resolution: 1,000), for items per second. */
  itemsPerRequest?: number;
  run(ctx: HttpContext): Promise<ScenarioOutcome>;
}
