/**
 * The response headers every answer carries besides its own, defined once:
 * - the security headers, which CloudFront adds to every answer in the cloud
 *   (infra/constructs/web.ts builds its response headers policy from
 *   SECURITY_HEADERS) and the local gateway adds to every answer it sends;
 * - the CORS headers of API answers, sent by the middleware on every handler
 *   answer and by the local gateway on its own errors.
 */

/**
 * Content-Security-Policy of the dashboard (and of every other answer): everything
 * from its own origin (the API is same-origin), inline styles only because Vite
 * inlines the page's small stylesheet.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The security headers, as data (CloudFront's policy is built from this). */
export const SECURITY_HEADERS = {
  /** Strict-Transport-Security: two years, subdomains included. Only meaningful over HTTPS. */
  hsts: { maxAgeSec: 730 * 86_400, includeSubdomains: true },
  /** X-Content-Type-Options: nosniff. */
  contentTypeOptions: 'nosniff',
  /** X-Frame-Options. */
  frameOptions: 'DENY',
  referrerPolicy: 'strict-origin-when-cross-origin',
  contentSecurityPolicy: CONTENT_SECURITY_POLICY,
} as const;

/**
 * The security headers as a plain-HTTP server sends them (the local gateway):
 * all of them but HSTS, which browsers ignore over plain HTTP (RFC 6797 §8.1)
 * and which, on a loopback origin, would only pin `localhost` to HTTPS for
 * every other local service should it ever arrive over TLS. CloudFront sends
 * HSTS (over HTTPS).
 */
export const PLAIN_HTTP_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': SECURITY_HEADERS.contentTypeOptions,
  'x-frame-options': SECURITY_HEADERS.frameOptions,
  'referrer-policy': SECURITY_HEADERS.referrerPolicy,
  'content-security-policy': SECURITY_HEADERS.contentSecurityPolicy,
};

/** CORS headers of every API answer: any origin may read it (the API is public or key-protected, never cookie-based). */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers':
    'x-request-id, content-disposition, idempotent-replayed, x-export-capped, x-export-cap-reason, x-export-rows, x-export-next-cursor',
};
