import { ApiException } from '@kubernetes/client-node';
import { expect } from 'chai';
import { describeApiError, isConflict, isPatchTestFailure, PatchTestFailedError, retryAfterMs } from '../../../src/kube/errors.ts';

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

  it('reads how long a 429 or 5xx asks to wait: the Retry-After header, else the Status details, through causes', () => {
    const throttled = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'TooManyRequests', details: { retryAfterSeconds: 3 }, code: 429 };
    expect(retryAfterMs(new ApiException(429, 'Unknown API Status Code!', JSON.stringify(throttled), { 'retry-after': '2' }))).to.equal(2000);
    expect(retryAfterMs(new ApiException(429, 'Unknown API Status Code!', JSON.stringify(throttled), {}))).to.equal(3000);
    expect(retryAfterMs(new ApiException(503, 'Service Unavailable', '', { 'retry-after': '1' }))).to.equal(1000);
    expect(retryAfterMs(new Error('writing the pull secret failed', { cause: new ApiException(429, 'Too Many Requests', '', { 'retry-after': '5' }) }))).to.equal(5000);
    expect(retryAfterMs(new ApiException(429, 'Too Many Requests', '', { 'retry-after': '86400' })), 'capped').to.equal(60_000);
  });

  it('finds no wait where none was asked for', () => {
    expect(retryAfterMs(new ApiException(409, 'Conflict', '', { 'retry-after': '2' })), 'not a 429 or 5xx').to.equal(0);
    expect(retryAfterMs(new ApiException(429, 'Too Many Requests', 'not json', {}))).to.equal(0);
    expect(retryAfterMs(new ApiException(429, 'Too Many Requests', '', { 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }))).to.equal(0);
    expect(retryAfterMs(new Error('ECR unavailable'))).to.equal(0);
    expect(retryAfterMs(undefined)).to.equal(0);
  });

  it('describes an error whose body is JSON text with its message', () => {
    expect(describeApiError(new ApiException(403, 'Forbidden', JSON.stringify({ message: 'secrets is forbidden' }), {}))).to.equal('Kubernetes API returned 403: secrets is forbidden');
  });
});
