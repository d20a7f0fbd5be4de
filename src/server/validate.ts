/** Request bodies checked field by field, so that every mistake is a 400 that names the field. */
import { InvalidArgumentError, PayloadTooLargeError } from '../errors.js';

export interface Limits {
  /** Bytes of a request body (larger: 413). */
  maxBodyBytes: number;
  /** Documents in one request (more: 413). */
  maxDocuments: number;
  /** Characters of one document (longer: 413). */
  maxDocumentChars: number;
  /** Requests admitted at once, queued ones included (more: 429). */
  maxQueuedRequests: number;
  /** The longest a request may take, and the default deadline (milliseconds). */
  requestTimeoutMs: number;
}

export const defaultLimits: Limits = {
  maxBodyBytes: 8 * 1024 * 1024,
  maxDocuments: 1000,
  maxDocumentChars: 100_000,
  maxQueuedRequests: 256,
  requestTimeoutMs: 30_000,
};

export function object(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new InvalidArgumentError('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function requiredString(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.trim() === '') throw new InvalidArgumentError(`"${key}" must be a non-empty string`);
  return v;
}

export function optionalString(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentError(`"${key}" must be a string`);
  return v;
}

export function optionalBoolean(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new InvalidArgumentError(`"${key}" must be true or false`);
  return v;
}

export function optionalPositiveInteger(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`"${key}" must be a positive integer`);
  return v;
}

/** Documents as strings or {text} objects (the Cohere/Jina shape), within the limits. */
export function documentList(o: Record<string, unknown>, key: string, limits: Limits): string[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new InvalidArgumentError(`"${key}" must be an array`);
  if (v.length > limits.maxDocuments) throw new PayloadTooLargeError(`${v.length} documents; this server takes at most ${limits.maxDocuments} per request`);
  return v.map((d, i) => {
    const text = typeof d === 'string' ? d : d !== null && typeof d === 'object' && typeof (d as { text?: unknown }).text === 'string' ? (d as { text: string }).text : undefined;
    if (text === undefined) throw new InvalidArgumentError(`"${key}[${i}]" must be a string or an object with a string "text"`);
    if (text.length > limits.maxDocumentChars) {
      throw new PayloadTooLargeError(`"${key}[${i}]" has ${text.length} characters; this server takes at most ${limits.maxDocumentChars}`);
    }
    return text;
  });
}
