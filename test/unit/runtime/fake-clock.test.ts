import { expect } from 'chai';
import { FakeClock } from '../../support/fake-clock.ts';

describe('FakeClock', () => {
  it('fires due timers in order, including ones scheduled by fired callbacks within the window', () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => {
      fired.push(`a@${clock.now()}`);
      clock.setTimeout(() => fired.push(`c@${clock.now()}`), 5);
      clock.setTimeout(() => fired.push(`late@${clock.now()}`), 100);
    }, 10);
    clock.setTimeout(() => fired.push(`tie@${clock.now()}`), 20);
    clock.advance(30);
    expect(fired).to.deep.equal(['a@1010', 'c@1015', 'b@1020', 'tie@1020']);
    expect(clock.now()).to.equal(1030);
    expect(clock.pendingTimers()).to.equal(1);
  });

  it('does not fire cleared timers', () => {
    const clock = new FakeClock();
    let fired = false;
    const handle = clock.setTimeout(() => {
      fired = true;
    }, 10);
    clock.clearTimeout(handle);
    clock.advance(100);
    expect(fired).to.equal(false);
  });

  it('set jumps forward firing due timers, and backward only changes now', () => {
    const clock = new FakeClock(0);
    let fired = 0;
    clock.setTimeout(() => fired++, 50);
    clock.set(100);
    expect(fired).to.equal(1);
    clock.set(10);
    expect(clock.now()).to.equal(10);
  });

  it('steps the wall clock like NTP without moving the monotonic clock or firing timers', () => {
    const clock = new FakeClock(1_000_000);
    let fired = 0;
    clock.setTimeout(() => fired++, 50);
    clock.stepWallClock(3_600_000);
    expect(clock.now()).to.equal(4_600_000);
    expect(clock.monotonicNow()).to.equal(0);
    expect(fired).to.equal(0);
    clock.stepWallClock(-7_200_000);
    expect(clock.now()).to.equal(-2_600_000);
    expect(clock.nextTimerInMs()).to.equal(50);
  });

  it('moves both clocks together when time advances, and runs timers on the monotonic clock', () => {
    const clock = new FakeClock(1_000_000);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.monotonicNow()), 50);
    clock.stepWallClock(-500_000);
    clock.advance(100);
    expect(fired).to.deep.equal([50]);
    expect(clock.now()).to.equal(500_100);
    expect(clock.monotonicNow()).to.equal(100);
  });
});
