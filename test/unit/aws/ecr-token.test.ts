import { expect } from 'chai';
import { decodeAuthorizationToken } from '../../../src/aws/ecr-token.ts';

const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('decodeAuthorizationToken', () => {
  it('decodes base64 of AWS:<password>', () => {
    expect(decodeAuthorizationToken(base64('AWS:eyJwYXlsb2FkIjoi'))).to.deep.equal({ username: 'AWS', password: 'eyJwYXlsb2FkIjoi' });
  });

  it('round-trips a realistic long password', () => {
    const password = `eyJwYXlsb2FkIjoi${'x'.repeat(2_000)}IiwidmVyc2lvbiI6IjIifQ==`;
    expect(decodeAuthorizationToken(base64(`AWS:${password}`))).to.deep.equal({ username: 'AWS', password });
  });

  it('keeps everything after the first colon in the password', () => {
    expect(decodeAuthorizationToken(base64('AWS:pa:ss:word:'))).to.deep.equal({ username: 'AWS', password: 'pa:ss:word:' });
  });

  const garbage: Array<[string, string]> = [
    ['an empty token', ''],
    ['base64 without a colon', base64('nocolonhere')],
    ['an empty username', base64(':password')],
    ['an empty password', base64('AWS:')],
    ['the plain text AWS:password (not base64)', 'AWS:password'],
    ['words that are not base64', 'this is not base64 at all'],
    ['JSON', '{"user":"AWS"}'],
  ];
  for (const [what, token] of garbage) {
    it(`throws on ${what}`, () => {
      expect(() => decodeAuthorizationToken(token)).to.throw('not base64 of user:password');
    });
  }

  it('does not echo the token in its error', () => {
    const token = base64('AWSpasswordwithoutcolon');
    expect(() => decodeAuthorizationToken(token))
      .to.throw()
      .that.satisfies((error: Error) => !error.message.includes(token) && !error.message.includes('passwordwithoutcolon'));
  });
});
