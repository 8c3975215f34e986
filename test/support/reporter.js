'use strict';
// Mocha's spec output, then one plain closing line that CI reads: "N passed, N failed".
// Printed synchronously right after Spec's epilogue: with `exit: true` mocha ends the process
// as soon as the run ends, so anything deferred (setImmediate, timers) would never print.
const Mocha = require('mocha');
const { Spec } = Mocha.reporters;

class TollgateReporter extends Spec {
  epilogue() {
    super.epilogue();
    const s = this.stats || {};
    process.stdout.write(`${s.passes || 0} passed, ${s.failures || 0} failed\n`);
  }
}
module.exports = TollgateReporter;
