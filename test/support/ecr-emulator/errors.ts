/**
 * An error the emulator answers with. Each protocol renders it in its own wire shape
 * (JSON `__type` for ECR, XML `<Error><Code>` for STS, `{"errors":[...]}` for registry v2).
 */
export class EmulatedError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = code;
    this.code = code;
    this.status = status;
  }
}

/** Why a signed request was refused; each API maps a reason to its own error code. */
export type AuthFailureReason =
  | 'missingAuthentication'
  | 'incompleteSignature'
  | 'unknownAccessKey'
  | 'invalidSessionToken'
  | 'expiredSessionToken'
  | 'invalidScope'
  | 'signatureExpired'
  | 'signatureMismatch';

export class AuthFailure extends Error {
  readonly reason: AuthFailureReason;

  constructor(reason: AuthFailureReason, message: string) {
    super(message);
    this.name = 'AuthFailure';
    this.reason = reason;
  }
}
