/**
 * Errors a caller can cause, as RFC 9457 problem details
 * (`application/problem+json`): status, title, detail, and the offending field.
 */
import type { z } from 'zod';

export interface FieldError {
  field: string;
  message: string;
}

export class HttpProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly field: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    title: string,
    detail: string,
    extra: { field?: string; errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
    this.status = status;
    this.title = title;
    this.field = extra.field;
    this.errors = extra.errors;
    this.headers = extra.headers ?? {};
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
      ...(instance === undefined ? {} : { instance }),
      ...(requestId === undefined ? {} : { requestId }),
    };
  }
}

export const badRequest = (field: string, message: string) =>
  new HttpProblem(400, 'Bad Request', `${field}: ${message}`, { field, errors: [{ field, message }] });

/**
 * Parses `value` with `schema` or throws a 400 naming the first offending field
 * (`prefix` is prepended: `body.items.3.ts`, or just `window` for query strings).
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  const result = schema.safeParse(value);
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
