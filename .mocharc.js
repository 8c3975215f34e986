'use strict';
// Tests run from TypeScript sources through tsx (no build step between an edit and a test run);
// `npm run typecheck` is the type gate, and test/typecheck.test.ts runs it as part of the suite.
module.exports = {
  require: ['tsx/cjs'],
  reporter: 'test/support/reporter.js',
  timeout: 60000,
  exit: true,
};
