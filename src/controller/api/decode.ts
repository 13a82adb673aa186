// Request decoding at the HTTP edge: a body is checked against its resource's zod schema and
// only the schema's output type reaches the service, so no unvalidated field can be read there.
// The first problem becomes a 400 in Neutron's words, naming the field by its path
// (`fixed_ips[0].ip_address`) and the reason; unknown attributes are refused, as Neutron does.
import type { z } from 'zod';
import { BadRequestError } from '../errors.js';

type Issue = z.core.$ZodIssue;

/** A value as shown in an error message: JSON, cut at 64 characters. */
export function shown(v: unknown): string {
  let text: string;
  try {
    text = typeof v === 'string' ? v : (JSON.stringify(v) ?? typeof v);
  } catch {
    text = typeof v; // a cycle or a throwing toJSON: say what it is, not what it holds
  }
  return text.length > 64 ? `${text.slice(0, 61)}...` : text;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

const ARTICLE: Record<string, string> = { string: 'a string', number: 'a number', boolean: 'a boolean', array: 'a list', object: 'an object', int: 'an integer' };

function fieldPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const p of path) out = typeof p === 'number' ? `${out}[${p}]` : out ? `${out}.${String(p)}` : String(p);
  return out;
}

function problem(root: string, issue: Issue): BadRequestError {
  if (issue.code === 'unrecognized_keys') {
    const [first, ...rest] = issue.keys;
    const field = fieldPath(root, [...issue.path, first ?? '']);
    return new BadRequestError(field, `is not a known attribute${rest.length ? ` (nor are ${rest.map((k) => `'${shown(k)}'`).join(', ')})` : ''}`);
  }
  const field = fieldPath(root, issue.path) || root || 'body';
  if (issue.code === 'invalid_type' && issue.message.startsWith('Invalid input')) {
    const input = (issue as { input?: unknown }).input;
    return new BadRequestError(field, input === undefined ? 'is required' : `must be ${ARTICLE[issue.expected] ?? issue.expected}, not ${kindOf(input)}`);
  }
  return new BadRequestError(field, issue.message);
}

/** The decoded body, or a BadRequestError naming the first field in error. */
export function decode<S extends z.ZodType>(schema: S, value: unknown, root = ''): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  throw problem(root, r.error.issues[0] as Issue);
}

/** The resource inside Neutron's wrapper, {"port": {...}}, decoded. */
export function decodeWrapped<S extends z.ZodType>(schema: S, body: unknown, key: string): z.output<S> {
  const inner = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : undefined;
  if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) throw new BadRequestError(key, `the request body must be {"${key}": {...}}`);
  const extra = Object.keys(body as object).find((k) => k !== key);
  if (extra !== undefined) throw new BadRequestError(extra, `is not a known attribute (the body holds only "${key}")`);
  return decode(schema, inner);
}
