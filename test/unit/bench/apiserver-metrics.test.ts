import { expect } from 'chai';
import { diffCounts, endedWatches, parseOpenWatches, parseRequestCounts, perUnit, writeBreakdown } from '../../bench/apiserver-metrics.ts';

const line = (verb: string, resource: string, value: number, subresource = '') =>
  `apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="${resource}",scope="namespace",subresource="${subresource}",verb="${verb}",version="v1"} ${value}`;

describe('bench apiserver metrics', () => {
  it('splits a convergence into Secret creates, status patches, finalizer patches, Events and the rest', () => {
    const before = parseRequestCounts([line('POST', 'secrets', 5), line('PUT', 'leases', 100)].join('\n'));
    const after = parseRequestCounts(
      [
        line('POST', 'secrets', 1005),
        line('PUT', 'leases', 106),
        line('PATCH', 'ecrregistries', 1000, 'status'),
        line('PATCH', 'ecrregistries', 1000),
        line('POST', 'events', 990),
        line('PATCH', 'events', 10),
        line('PATCH', 'serviceaccounts', 3),
        line('LIST', 'ecrregistries', 7),
        line('WATCH', 'secrets', 2),
      ].join('\n'),
    );
    const delta = diffCounts(before, after);
    const writes = writeBreakdown(delta.byVerbResource, 'ecrregistries');
    expect(writes).to.deep.equal({ secretCreates: 1000, secretUpdates: 0, statusPatches: 1000, mainResourceWrites: 1000, events: 1000, other: 3, total: 4003 });
    expect(perUnit(writes, 1000)).to.deep.equal({ secretCreates: 1, secretUpdates: 0, statusPatches: 1, mainResourceWrites: 1, events: 1, other: 0, total: 4 });
    expect(endedWatches(delta)).to.deep.equal({ secrets: 2 });
  });

  it('tells a ClusterEcrRegistry from an EcrRegistry, and Secret updates from creates', () => {
    const writes = writeBreakdown({ 'PUT secrets': 4, 'PATCH secrets': 1, 'PATCH clusterecrregistries/status': 2, 'PATCH ecrregistries/status': 9 }, 'clusterecrregistries');
    expect(writes).to.include({ secretCreates: 0, secretUpdates: 5, statusPatches: 2, other: 9, total: 16 });
  });

  it("leaves out creates of the reconciled kind, which are the bench's own", () => {
    const writes = writeBreakdown({ 'POST ecrregistries': 50, 'POST secrets': 50, 'PATCH ecrregistries/status': 50 }, 'ecrregistries');
    expect(writes).to.include({ secretCreates: 50, statusPatches: 50, mainResourceWrites: 0, total: 100 });
  });

  it('gives NaN per unit when nothing was counted, not a division by zero', () => {
    expect(perUnit(writeBreakdown({ 'POST secrets': 3 }, 'ecrregistries'), 0).secretCreates).to.be.NaN;
    expect(perUnit(writeBreakdown({ 'POST secrets': 1 }, 'ecrregistries'), 3).secretCreates).to.equal(0.33);
  });

  it('reads the open watches by resource from the longrunning gauge, ignoring other verbs and zeros', () => {
    const text = [
      '# TYPE apiserver_longrunning_requests gauge',
      'apiserver_longrunning_requests{component="apiserver",group="",resource="secrets",scope="namespace",subresource="",verb="WATCH",version="v1"} 3',
      'apiserver_longrunning_requests{component="apiserver",group="",resource="secrets",scope="cluster",subresource="",verb="WATCH",version="v1"} 1',
      'apiserver_longrunning_requests{component="apiserver",group="ecr.aws",resource="ecrregistries",scope="cluster",subresource="",verb="WATCH",version="v1"} 1',
      'apiserver_longrunning_requests{component="apiserver",group="",resource="pods",scope="namespace",subresource="log",verb="GET",version="v1"} 2',
      'apiserver_longrunning_requests{component="apiserver",group="",resource="configmaps",scope="cluster",subresource="",verb="WATCH",version="v1"} 0',
    ].join('\n');
    expect(parseOpenWatches(text)).to.deep.equal({ secrets: 4, ecrregistries: 1 });
  });
});
