import { ApiException } from '@kubernetes/client-node';
import { expect } from 'chai';
import { describeApiError, isConflict, isPatchTestFailure, PatchTestFailedError } from '../../../src/kube/errors.ts';

const patchNotApplied = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'the server rejected our request due to an error in our request', reason: 'Invalid', details: {}, code: 422 };

describe('Kubernetes API errors', () => {
  it('recognises the 422 the apiserver answers to a JSON patch whose test op failed, with the body as text (as client-node passes it)', () => {
    expect(isPatchTestFailure(new ApiException(422, 'Unknown API Status Code!', JSON.stringify(patchNotApplied), {}))).to.equal(true);
  });

  it('recognises it with the body already parsed', () => {
    expect(isPatchTestFailure(new ApiException(422, 'Unprocessable', patchNotApplied, {}))).to.equal(true);
  });

  it('does not take a validation failure, which names its fields, for a stale read', () => {
    const invalid = { ...patchNotApplied, message: 'ServiceAccount "x" is invalid: imagePullSecrets[0].name: Required value', details: { causes: [{ field: 'imagePullSecrets[0].name' }] } };
    expect(isPatchTestFailure(new ApiException(422, 'Unprocessable', JSON.stringify(invalid), {}))).to.equal(false);
  });

  it('re-throws a stale read as a conflict', () => {
    expect(isConflict(new PatchTestFailedError('moved'))).to.equal(true);
  });

  it('describes an error whose body is JSON text with its message', () => {
    expect(describeApiError(new ApiException(403, 'Forbidden', JSON.stringify({ message: 'secrets is forbidden' }), {}))).to.equal('Kubernetes API returned 403: secrets is forbidden');
  });
});
