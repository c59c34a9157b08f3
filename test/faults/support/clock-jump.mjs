/**
 * Preloaded into a sidecar with `node --import` (through NODE_OPTIONS) to make its wall clock jump,
 * as an NTP step or a suspended laptop would: each SIGUSR2 shifts Date by PNAV_TEST_CLOCK_JUMP_MS
 * (default one hour back). performance.now(), the monotonic clock, is left alone. libfaketime is
 * not available here, and this reaches the same code paths: everything in the process that reads
 * the wall clock goes through Date.
 */
const RealDate = Date;
let offsetMs = 0;
const jumpMs = Number(process.env.PNAV_TEST_CLOCK_JUMP_MS ?? -3_600_000);

process.on('SIGUSR2', () => {
  offsetMs += jumpMs;
  process.stderr.write(`clock-jump: wall clock shifted by ${offsetMs} ms\n`);
});

class ShiftedDate extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...args);
  }

  static now() {
    return RealDate.now() + offsetMs;
  }
}

globalThis.Date = ShiftedDate;
