import { expect } from 'chai';
import { watchChurn } from '../../bench/watches.ts';

describe('bench watch churn', () => {
  it('counts the watches beyond the apiserver own as the operator, and scales re-opens to 5 minutes', () => {
    const churn = watchChurn({ configmaps: 2, secrets: 1 }, { configmaps: 2, secrets: 51, ecrregistries: 1 }, { configmaps: 2, secrets: 51, ecrregistries: 1 }, { secrets: 100, ecrregistries: 2, configmaps: 1 }, 60);
    expect(churn.operatorOpen).to.deep.equal({ secrets: 50, ecrregistries: 1 });
    expect(churn.operatorWatches).to.equal(51);
    // The apiserver's 2 configmap watches ended once between them: its own secrets watch is taken to have ended half a time.
    expect(churn.endedOnOperatorResources).to.equal(102);
    expect(churn.operatorReopens).to.equal(102);
    expect(churn.otherReopens).to.equal(1);
    // 102 re-opens over 51 watches in 60 s: 2 per watch per minute, 10 per 5 minutes.
    expect(churn.reopensPerWatchPer5Min).to.equal(10);
  });

  it("takes the apiserver's own re-opens on the resources both watch out, at the rate of its other watches", () => {
    // Over 600 s every watch, the apiserver's and the operator's, ended once.
    const own = { configmaps: 2, pods: 1, secrets: 1, namespaces: 1 };
    const open = { ...own, secrets: 51, namespaces: 2, ecrregistries: 1 };
    const churn = watchChurn(own, open, open, { configmaps: 2, pods: 1, secrets: 51, namespaces: 2, ecrregistries: 1 }, 600);
    expect(churn.endedOnOperatorResources).to.equal(54);
    expect(churn.operatorWatches).to.equal(52);
    expect(churn.operatorReopens).to.equal(52);
    expect(churn.reopensPerWatchPer5Min).to.equal(0.5);
  });

  it('meets the target when watches last longer than the window', () => {
    const open = { secrets: 50, ecrregistries: 1 };
    const churn = watchChurn({}, open, open, { secrets: 5 }, 300);
    expect(churn.reopensPerWatchPer5Min).to.equal(0.1);
  });

  it('takes the mean of both ends, so a watch that reopened across the edge is not lost', () => {
    const churn = watchChurn({}, { secrets: 10 }, { secrets: 9 }, {}, 60);
    expect(churn.operatorOpen).to.deep.equal({ secrets: 10 });
    expect(churn.reopensPerWatchPer5Min).to.equal(0);
  });

  it('says NaN, not 0, when the operator holds no watch', () => {
    const churn = watchChurn({ secrets: 1 }, { secrets: 1 }, { secrets: 1 }, { secrets: 1 }, 60);
    expect(churn.operatorWatches).to.equal(0);
    expect(churn.reopensPerWatchPer5Min).to.be.NaN;
  });
});
