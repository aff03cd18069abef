/**
 * Errors a caller can cause, as RFC 9457 problem details
 * (`application/problem+json`): status, title, detail, and the offending field.
 */
import * as z from '../zod.js';

export interface FieldError {
  field: string;
  message: string;
}

/** Which per-request ceiling a request ran into (a `limit` member of the problem document). */
export interface LimitInfo {
  /** The ceiling's name, e.g. `rollupItemsPerRequest`. */
  name: string;
  max: number;
  /** What the request would have needed (planned), or had reached when it was stopped. */
  requested: number;
}

export class HttpProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly field: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly limit: LimitInfo | undefined;

  constructor(
    status: number,
    title: string,
    detail: string,
    extra: {
      field?: string;
      errors?: FieldError[];
      headers?: Record<string, string>;
      limit?: LimitInfo;
    } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.title = title;
    this.field = extra.field;
    this.errors = extra.errors;
    this.headers = extra.headers ?? {};
    this.limit = extra.limit;
  }

  /** The problem document. `instance` is the request path, `requestId` lets users quote the failure. */
  toJSON(instance?: string, requestId?: string) {
    return {
      type: 'about:blank',
      title: this.title,
      status: this.status,
      detail: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.errors === undefined ? {} : { errors: this.errors }),
      ...(this.limit === undefined ? {} : { limit: this.limit }),
      ...(instance === undefined ? {} : { instance }),
      ...(requestId === undefined ? {} : { requestId }),
    };
  }
}

export const badRequest = (field: string, message: string) =>
  new HttpProblem(400, 'Bad Request', `${field}: ${message}`, { field, errors: [{ field, message }] });

/**
 * A request whose work would pass a per-request ceiling: 400 naming the field
 * to change (`range` for from/to/window) and the limit, before any work when
 * the plan tells, or as soon as a runtime ceiling is reached.
 */
export const limitExceeded = (field: string, message: string, limit: LimitInfo) =>
  new HttpProblem(400, 'Bad Request', `${field}: ${message}`, {
    field,
    errors: [{ field, message }],
    limit,
  });

/**
 * Parses `value` with `schema` or throws a 400 naming the first offending field
 * (`prefix` is prepended: `body.items.3.ts`, or just `window` for query strings).
 */
export function validate<S extends z.core.$ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || prefix || '(root)',
    message: issue.message,
  }));
  const first = errors[0] as FieldError;
  return raise(
    new HttpProblem(400, 'Bad Request', `${first.field}: ${first.message}`, { field: first.field, errors }),
  );
}

function raise(problem: HttpProblem): never {
  throw problem;
}
