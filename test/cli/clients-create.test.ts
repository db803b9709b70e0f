import { createClient } from '../../src/cli/clients';
import { loadConfig } from '../../src/config/config';

describe('pdvault clients create --expires', () => {
  // Refused before a database is opened, so a development config that reaches none is enough.
  const config = loadConfig({ PDVAULT_DATA_DIR: '/nonexistent-pdvault-data' });
  const create = (expires: string) => () => createClient(config, { name: 'shipping', scopes: 'subjects:read', purposes: 'shipping', kind: 'contractor', expires });

  it.each([['a day the calendar does not have', '2027-02-30'], ['an hour past 23', '2027-06-30T24:00:00Z'], ['a word', 'tomorrow']])(
    'refuses %s with one message naming both forms and that the date must exist',
    (_label, expires) => {
      expect(create(expires)).toThrow('--expires must be a date (2027-06-30, through the end of that day) or an RFC 3339 date-time that exists, ending before the year 10000 (as a date, 9999-12-30 at the latest)');
    },
  );
});
