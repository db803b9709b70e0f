import type { RotationJobRow } from '../../src/store/rotation-jobs';
import { view } from '../../src/vault/rotation/rotation-jobs';

const at = (seconds: number) => new Date(Date.UTC(2026, 11, 2, 12, 0, seconds));
const job = (overrides: Partial<RotationJobRow>): RotationJobRow => ({
  id: 'job_AAAAAAAAAAAAAAAAAAAAAA',
  kind: 'kek',
  state: 'running',
  params: {},
  total: 100,
  done: 100,
  errors: [],
  startedBy: 'pdvault:cli',
  startedAt: at(0),
  updatedAt: at(5),
  finishedAt: null,
  ...overrides,
});

describe('a rotation job as the security team sees it', () => {
  it('gives a running job its rate to now, so a job that has stopped moving shows it', () => {
    expect(view(job({}), at(10)).rate_per_second).toBe(10);
    expect(view(job({}), at(50)).rate_per_second).toBe(2);
  });

  it('gives a finished job its rate from start to end', () => {
    expect(view(job({ state: 'succeeded', finishedAt: at(4) }), at(50)).rate_per_second).toBe(25);
  });
});
