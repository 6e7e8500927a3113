import { EmulatedError } from './errors.ts';

/** Reads untrusted JSON request members, answering malformed input with InvalidParameterException. */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(member: string, expectation: string): EmulatedError {
  return new EmulatedError('InvalidParameterException', 400, `Invalid parameter at '${member}' failed to satisfy constraint: '${expectation}'`);
}

export function optionalString(input: JsonObject, member: string): string | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(member, 'must be a string');
  return value;
}

export function requiredString(input: JsonObject, member: string): string {
  const value = optionalString(input, member);
  if (value === undefined || value.length === 0) throw invalid(member, 'Member must not be null');
  return value;
}

export function optionalStringArray(input: JsonObject, member: string): string[] | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid(member, 'must be a list of strings');
  return value;
}

export interface ImageIdInput {
  imageTag?: string;
  imageDigest?: string;
}

export function optionalImageIds(input: JsonObject, member: string): ImageIdInput[] | undefined {
  const value = input[member];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(member, 'must be a list of image identifiers');
  if (value.length < 1 || value.length > 100) throw invalid(member, 'Member must have length between 1 and 100');
  return value.map((item, i) => {
    if (!isObject(item)) throw invalid(`${member}.${i + 1}`, 'must be an image identifier');
    const imageTag = optionalString(item, 'imageTag');
    const imageDigest = optionalString(item, 'imageDigest');
    return { ...(imageTag !== undefined ? { imageTag } : {}), ...(imageDigest !== undefined ? { imageDigest } : {}) };
  });
}

export function requiredImageIds(input: JsonObject, member: string): ImageIdInput[] {
  const ids = optionalImageIds(input, member);
  if (!ids) throw invalid(member, 'Member must not be null');
  return ids;
}
