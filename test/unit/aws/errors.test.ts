import { expect } from 'chai';
import { type AwsFailureKind, classifyAwsError } from '../../../src/aws/errors.ts';

const ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

/** Shaped like what the AWS SDK v3 throws for a service error: a named Error with $metadata. */
function serviceError(name: string, httpStatusCode: number, message = `${name} from AWS`): Error {
  return Object.assign(new Error(message), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode, attempts: 1 } });
}

/** Shaped like what Node's http stack throws when the endpoint cannot be reached. */
function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code, $metadata: { attempts: 1, totalRetryDelay: 0 } });
}

describe('classifyAwsError', () => {
  describe('by the exception name ECR surfaces', () => {
    const table: Array<[string, number, AwsFailureKind, boolean]> = [
      ['UnrecognizedClientException', 400, 'CredentialsRejected', false],
      ['InvalidSignatureException', 400, 'CredentialsRejected', false],
      ['ExpiredTokenException', 400, 'CredentialsRejected', false],
      ['AccessDeniedException', 400, 'AccessDenied', false],
      ['ThrottlingException', 400, 'Throttled', true],
      ['ServerException', 500, 'Unavailable', true],
      ['RepositoryNotFoundException', 400, 'NotFound', false],
      ['ImageNotFoundException', 400, 'NotFound', false],
      ['InvalidParameterException', 400, 'InvalidRequest', false],
    ];
    for (const [name, status, kind, retryable] of table) {
      it(`classifies ${name} as ${kind}, ${retryable ? 'retryable' : 'not retryable'}`, () => {
        const failure = classifyAwsError(serviceError(name, status));
        expect(failure).to.deep.equal({ kind, code: name, message: `${name} from AWS`, retryable });
      });
    }
  });

  it('classifies an unknown exception name on a 4xx as Unknown and retryable', () => {
    expect(classifyAwsError(serviceError('BrandNewException', 400))).to.include({ kind: 'Unknown', code: 'BrandNewException', retryable: true });
  });

  describe('network failures', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']) {
      it(`classifies ${code} as Unavailable with the network code`, () => {
        expect(classifyAwsError(networkError(code))).to.deep.equal({
          kind: 'Unavailable',
          code,
          message: `connect ${code} 127.0.0.1:1`,
          retryable: true,
        });
      });
    }

    it('finds ECONNREFUSED nested in the cause chain', () => {
      const inner = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
      const outer = new Error('request failed', { cause: new Error('socket hang', { cause: inner }) });
      expect(classifyAwsError(outer)).to.include({ kind: 'Unavailable', code: 'ECONNREFUSED', retryable: true, message: 'request failed' });
    });

    it('classifies the SDK TimeoutError as Unavailable', () => {
      const timeout = Object.assign(new Error('Connection timed out after 5000 ms'), { name: 'TimeoutError' });
      expect(classifyAwsError(timeout)).to.include({ kind: 'Unavailable', code: 'TimeoutError', retryable: true });
    });

    it('terminates on a cause that refers back to itself', () => {
      const looping: Error & { cause?: unknown } = new Error('loop');
      looping.cause = looping;
      expect(classifyAwsError(looping)).to.include({ kind: 'Unknown', code: 'Error', retryable: true });
    });
  });

  describe('HTTP status without a known exception name', () => {
    it('classifies a 503 with an empty body (SDK name "Unknown") as Unavailable', () => {
      expect(classifyAwsError(serviceError('Unknown', 503, 'UnknownError'))).to.deep.equal({
        kind: 'Unavailable',
        code: 'Unknown',
        message: 'UnknownError',
        retryable: true,
      });
    });

    it('classifies a 500 whose HTML body failed to deserialize as Unavailable', () => {
      const failure = classifyAwsError(serviceError('SyntaxError', 500, `Unexpected token '<', "<html>" is not valid JSON`));
      expect(failure).to.include({ kind: 'Unavailable', code: 'SyntaxError', retryable: true });
    });

    it('classifies a bare 429 as Throttled', () => {
      expect(classifyAwsError(serviceError('Unknown', 429, 'UnknownError'))).to.include({ kind: 'Throttled', retryable: true });
    });

    it('lets a known exception name win over the status code', () => {
      expect(classifyAwsError(serviceError('AccessDeniedException', 503))).to.include({ kind: 'AccessDenied', retryable: false });
    });
  });

  describe('exception names that are not own entries of the table', () => {
    // An unmodelled error takes its name from the response's __type, so the name is server-chosen text.
    const inheritedNames = ['constructor', 'toString', '__proto__', 'hasOwnProperty'];

    it('classifies a 4xx named after an Object.prototype member as Unknown', () => {
      for (const name of inheritedNames) {
        expect(classifyAwsError(serviceError(name, 400)), name).to.include({ kind: 'Unknown', retryable: true });
      }
    });

    it('classifies a 5xx named after an Object.prototype member as Unavailable', () => {
      for (const name of inheritedNames) {
        expect(classifyAwsError(serviceError(name, 502)), name).to.include({ kind: 'Unavailable', retryable: true });
      }
    });
  });

  describe('non-Error values', () => {
    it('classifies a thrown string as Unknown, keeping the text', () => {
      expect(classifyAwsError('boom')).to.deep.equal({ kind: 'Unknown', code: 'Error', message: 'boom', retryable: true });
    });

    it('classifies undefined as Unknown', () => {
      expect(classifyAwsError(undefined)).to.include({ kind: 'Unknown', code: 'Error' });
    });
  });

  describe('redaction of the message', () => {
    it('removes an access key id from the message', () => {
      const failure = classifyAwsError(serviceError('UnrecognizedClientException', 400, `The access key ID ${ACCESS_KEY_ID} does not exist in our records.`));
      expect(failure.message).to.equal('The access key ID [REDACTED] does not exist in our records.');
    });

    it('removes a temporary (ASIA) access key id in a credential scope', () => {
      const failure = classifyAwsError(serviceError('InvalidSignatureException', 400, `Credential=ASIAY34FZKBOKMUTVV7A/20250101/us-east-1/ecr/aws4_request`));
      expect(failure.message).to.not.include('ASIAY34FZKBOKMUTVV7A');
    });

    it('removes known secrets even when they do not look like credentials', () => {
      const shortSecret = 'hunter2-secret';
      const failure = classifyAwsError(serviceError('InvalidSignatureException', 400, `signed with ${shortSecret} and ${SECRET_ACCESS_KEY}`), [
        ACCESS_KEY_ID,
        shortSecret,
        SECRET_ACCESS_KEY,
        undefined,
      ]);
      expect(failure.message).to.equal('signed with [REDACTED] and [REDACTED]');
    });

    it('removes a long base64 run such as a session token or signature', () => {
      const sessionToken = `IQoJb3JpZ2luX2VjEPr${'A'.repeat(60)}==`;
      const failure = classifyAwsError(serviceError('ExpiredTokenException', 400, `token ${sessionToken} expired`));
      expect(failure.message).to.equal('token [REDACTED] expired');
    });

    it('redacts network error messages too', () => {
      const error = Object.assign(new Error(`connect ECONNREFUSED for ${ACCESS_KEY_ID}`), { code: 'ECONNREFUSED' });
      expect(classifyAwsError(error).message).to.equal('connect ECONNREFUSED for [REDACTED]');
    });

    it('caps the message at 500 characters', () => {
      const failure = classifyAwsError(serviceError('ServerException', 500, 'x '.repeat(2_000)));
      expect(failure.message).to.have.length(500);
    });
  });
});
