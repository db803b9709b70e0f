import { reasonOf } from '../../src/cli/error-reason';

describe("a failure's reason on the command line", () => {
  it('is its message', () => {
    expect(reasonOf(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });

  it('of an AggregateError with no message of its own (every address of a host refused), is what it gathers, each once', () => {
    const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });
    const all = Object.assign(new AggregateError([refused('::1:5432'), refused('127.0.0.1:5432'), refused('::1:5432')], ''), { code: 'ECONNREFUSED' });
    expect(reasonOf(all)).toBe('connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432');
  });

  it('falls back to its code, and never reads as empty', () => {
    expect(reasonOf(Object.assign(new Error(''), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT');
    expect(reasonOf(new Error(''))).toBe('no reason given');
  });
});
