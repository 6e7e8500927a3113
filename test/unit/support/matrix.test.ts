import { expect } from 'chai';
import { celRuleFailure } from '../../support/controlplane/cel-messages.ts';
import { mochaCounts, plannedRuns } from '../../support/matrix.ts';

describe('the Kubernetes version matrix runner', () => {
  it("reads the totals of mocha's spec reporter", () => {
    const output = [
      '  the envtest-style control plane',
      '    ✔ runs kube-apiserver v1.37.2',
      '',
      '  229 passing (4m)',
      '  1 pending',
      '  2 failing',
      '',
      '  1) a failing test',
    ].join('\n');
    expect(mochaCounts(output)).to.deep.equal({ passing: 229, pending: 1, failing: 2 });
  });

  it('counts zero for totals mocha leaves out, and ignores test titles that contain the words', () => {
    const output = ['    ✔ keeps 3 passing registries served', '', '  12 passing (9s)', ''].join('\n');
    expect(mochaCounts(output)).to.deep.equal({ passing: 12, pending: 0, failing: 0 });
  });
});

describe('the plan of test runs', () => {
  it('runs per-version suites once per Kubernetes version, and the others once on the default one', () => {
    const runs = plannedRuns(['integration', 'docs'], ['1.34.4', '1.37.2']);
    expect(runs.map((run) => [run.label, run.version])).to.deep.equal([
      ['integration 1.34.4', '1.34.4'],
      ['integration 1.37.2', '1.37.2'],
      ['docs', undefined],
    ]);
  });

  it('names the known suites when asked for another', () => {
    expect(() => plannedRuns(['unit'], ['1.34.4'])).to.throw(/unknown suite unit; known: integration, e2e, docs, reliability/);
  });
});

describe("the apiserver's wording of a failed CEL rule, per pinned Kubernetes line", () => {
  it('names the CEL type on 1.34, and the scalar value (or nothing for an object) on 1.37', () => {
    expect(celRuleFailure('spec.r', '11h', 'too long', '1.34.4')).to.equal('spec.r: Invalid value: "string": too long');
    expect(celRuleFailure('spec.s', {}, 'empty', '1.34.4')).to.equal('spec.s: Invalid value: "object": empty');
    expect(celRuleFailure('spec.r', '11h', 'too long', '1.37.2')).to.equal('spec.r: Invalid value: "11h": too long');
    expect(celRuleFailure('spec.s', {}, 'empty', '1.37.2')).to.equal('spec.s: Invalid value: empty');
  });

  it('refuses to guess for a line whose wording was never observed', () => {
    expect(() => celRuleFailure('spec.r', '11h', 'too long', '1.36.0')).to.throw(/has not been recorded/);
  });
});
