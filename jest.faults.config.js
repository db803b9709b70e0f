/**
 * The fault suite: KMS, PostgreSQL and the audit table failing under traffic, and the process
 * killed under write load. Not part of `npm test`; `npm run test:faults` runs it (and .ci/run).
 */
const base = require('./jest.config');

module.exports = {
  ...base,
  testMatch: ['<rootDir>/test/faults/**/*.test.ts'],
  testTimeout: 120000,
};
