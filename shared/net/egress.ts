/**
 * The egress guard: every request the product makes to a URL a user typed
 * (synthetic monitors, alert webhooks) goes through here. Only http and https,
 * and only to public unicast addresses, decided after DNS resolution and
 * enforced at connect time (the socket connects to an address that was
 * checked, so a DNS answer that changes between check and connect — rebinding
 * — gains nothing). Redirects are followed by hand, each hop checked again.
 *
 * Explicit `host:port` exceptions (EGRESS_ALLOW) let local runs and tests
 * reach a server on loopback. Link-local addresses (the instance metadata
 * service 169.254.169.254, the container credentials endpoint, fd00:ec2::254)
 * and the Lambda runtime API can never be allowed.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

export interface EgressPolicy {
  /** `host:port` pairs (lower-case host, IPv6 in brackets) that may be reached even on a refused address. */
  readonly allow: ReadonlySet<string>;
}

export type EgressDecision =
  | { readonly ok: true; readonly url: URL; readonly addresses: readonly string[] }
  | { readonly ok: false; readonly reason: EgressRefusal; readonly message: string };

export type EgressRefusal =
  | 'scheme'
  | 'credentials'
  | 'unresolvable'
  | 'metadata'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade-nat'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'unique-local'
  | 'too-many-redirects';

export class EgressRefusedError extends Error {
  constructor(
    readonly reason: EgressRefusal,
    readonly url: string,
    message: string,
  ) {
    super(message);
    this.name = 'EgressRefusedError';
  }
}

/** A response body over the limit: the request is cut off, not truncated silently. */
export class EgressLimitError extends Error {
  constructor(
    readonly url: string,
    readonly maxBytes: number,
  ) {
    super(`The response from ${url} is larger than ${maxBytes} bytes`);
    this.name = 'EgressLimitError';
  }
}

/** Builds the policy from the EGRESS_ALLOW setting (already parsed into `host:port` strings). */
export function egressPolicy(config: { readonly egressAllow?: readonly string[] }): EgressPolicy {
  return { allow: new Set((config.egressAllow ?? []).map((entry) => entry.trim().toLowerCase())) };
}

export const NO_EXCEPTIONS: EgressPolicy = { allow: new Set() };

/** IPv4 ranges by ipaddr.js's names → our reasons. Anything but `unicast` is refused. */
const IPV4_REASONS: Record<string, EgressRefusal> = {
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local',
  carrierGradeNat: 'carrier-grade-nat',
  multicast: 'multicast',
  broadcast: 'reserved',
  unspecified: 'unspecified',
};
const IPV6_REASONS: Record<string, EgressRefusal> = {
  loopback: 'loopback',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local',
  multicast: 'multicast',
  unspecified: 'unspecified',
};

/** AWS's IPv6 instance metadata address lives in fd00:ec2::/32. */
const AWS_IPV6_METADATA = ipaddr.parseCIDR('fd00:ec2::/32');

/**
 * Why an address may not be reached, or undefined when it is public unicast.
 * IPv4-mapped and NAT64 (64:ff9b::/96) IPv6 addresses are judged by the IPv4
 * address they carry; other IPv6 transition ranges (6to4, Teredo) are refused.
 */
export function classifyAddress(ip: string): EgressRefusal | undefined {
  if (!ipaddr.isValid(ip)) return 'unresolvable';
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) address = v6.toIPv4Address();
    else if (v6.range() === 'rfc6052') address = new ipaddr.IPv4(v6.toByteArray().slice(12));
  }
  if (address.kind() === 'ipv4') {
    const v4 = address as ipaddr.IPv4;
    if (v4.match(ipaddr.IPv4.parse('169.254.0.0'), 16)) {
      return v4.toString() === '169.254.169.254' || v4.toString() === '169.254.170.2'
        ? 'metadata'
        : 'link-local';
    }
    const range = v4.range();
    return range === 'unicast' ? undefined : (IPV4_REASONS[range] ?? 'reserved');
  }
  const v6 = address as ipaddr.IPv6;
  if (v6.match(AWS_IPV6_METADATA)) return 'metadata';
  const range = v6.range();
  return range === 'unicast' ? undefined : (IPV6_REASONS[range] ?? 'reserved');
}

/** Reasons no exception can override. */
const NEVER_ALLOWED: ReadonlySet<EgressRefusal> = new Set(['metadata', 'link-local', 'unresolvable']);

const REASON_TEXT: Record<EgressRefusal, string> = {
  scheme: 'only http and https URLs may be fetched',
  credentials: 'URLs with a user name or password are not fetched',
  unresolvable: 'the host name does not resolve',
  metadata: 'it is a cloud metadata address, which can never be reached',
  loopback: 'it is a loopback address',
  private: 'it is a private network address',
  'link-local': 'it is a link-local address, which can never be reached',
  'carrier-grade-nat': 'it is a carrier-grade NAT address',
  multicast: 'it is a multicast address',
  unspecified: 'it is the unspecified address',
  reserved: 'it is a reserved or special-purpose address',
  'unique-local': 'it is an IPv6 unique-local (private) address',
  'too-many-redirects': 'too many redirects',
};

function refusal(reason: EgressRefusal, url: string, address?: string): EgressDecision & { ok: false } {
  const where = address === undefined ? '' : ` (${address})`;
  return { ok: false, reason, message: `Refused ${url}${where}: ${REASON_TEXT[reason]}.` };
}

/** `host:port` as EGRESS_ALLOW writes it, the port made explicit. */
function hostPort(url: URL): string {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.hostname.toLowerCase()}:${port}`;
}
const addressPort = (address: string, port: string) =>
  `${isIP(address) === 6 ? `[${address}]` : address}:${port}`;

/** The Lambda runtime API (`127.0.0.1:9001` in Lambda): never reachable, whatever EGRESS_ALLOW says. */
function isRuntimeApi(address: string, port: string): boolean {
  const runtime = process.env.AWS_LAMBDA_RUNTIME_API;
  return runtime !== undefined && runtime === addressPort(address, port);
}

/** Decides on one resolved address of a URL. */
function judge(
  url: URL,
  address: string,
  policy: EgressPolicy,
): (EgressDecision & { ok: false }) | undefined {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (isRuntimeApi(address, port)) return refusal('metadata', url.href, address);
  const reason = classifyAddress(address);
  if (reason === undefined) return undefined;
  if (
    !NEVER_ALLOWED.has(reason) &&
    (policy.allow.has(hostPort(url)) || policy.allow.has(addressPort(address, port)))
  ) {
    return undefined;
  }
  return refusal(reason, url.href, address);
}

export type Resolver = (host: string) => Promise<readonly string[]>;

/** Every address a host resolves to (A and AAAA), as the connection would see them. */
export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses: LookupAddress[]) =>
      error ? reject(error) : resolve(addresses.map((a) => a.address)),
    ),
  );

/**
 * Decides whether a URL may be fetched. The WHATWG URL parser has already
 * turned IPv4 literals in any notation (`0x7f.1`, `2130706433`, `0177.0.0.1`)
 * into dotted decimal, so literals are judged like resolved addresses. Every
 * address a name resolves to must pass: a host with one private answer is
 * refused, as a connection could use it.
 */
export async function checkEgressUrl(
  input: string | URL,
  policy: EgressPolicy,
  resolver: Resolver = systemResolver,
): Promise<EgressDecision> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return refusal('scheme', String(input));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return refusal('scheme', url.href);
  if (url.username !== '' || url.password !== '') return refusal('credentials', url.href);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: readonly string[];
  if (isIP(host) !== 0) addresses = [host];
  else {
    try {
      addresses = await resolver(host);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) return refusal('unresolvable', url.href);
  }
  for (const address of addresses) {
    const refused = judge(url, address, policy);
    if (refused) return refused;
  }
  return { ok: true, url, addresses };
}

/**
 * A `lookup` for node:net that only hands out checked addresses: the socket
 * connects to what was judged, so there is no window between check and
 * connect for a changed DNS answer.
 */
function pinnedLookup(url: URL, policy: EgressPolicy, resolver: Resolver): LookupFunction {
  return (hostname, options, callback) => {
    resolver(hostname).then(
      (addresses) => {
        for (const address of addresses) {
          const refused = judge(url, address, policy);
          if (refused) {
            callback(new EgressRefusedError(refused.reason, url.href, refused.message), '', 4);
            return;
          }
        }
        const first = addresses[0];
        if (first === undefined) {
          callback(
            new EgressRefusedError('unresolvable', url.href, refusal('unresolvable', url.href).message),
            '',
            4,
          );
          return;
        }
        if ((options as { all?: boolean }).all) {
          const all = addresses.map((address) => ({ address, family: isIP(address) }));
          (callback as unknown as (e: null, a: typeof all) => void)(null, all);
        } else callback(null, first, isIP(first));
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 4),
    );
  };
}

export interface GuardedFetchOptions {
  /** Redirects followed (each hop checked); default 5. */
  readonly maxRedirects?: number;
  /** Whole request including redirects and body; default 10 s. */
  readonly timeoutMs?: number;
  /** Largest body read; default 5 MiB. Over it: EgressLimitError. */
  readonly maxBytes?: number;
  readonly resolver?: Resolver;
}

/** A fetch Response; its `url` and `redirected` say where the redirects led, as fetch's own do. */
export type GuardedResponse = Response;

function finalResponse(
  body: Uint8Array | null,
  init: ResponseInit,
  url: string,
  hops: number,
): GuardedResponse {
  const response = new Response(body as ConstructorParameters<typeof Response>[0], init);
  // A constructed Response has an empty url: shadow the getters with where this one came from.
  Object.defineProperties(response, { url: { value: url }, redirected: { value: hops > 0 } });
  return response;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Statuses a Response cannot be built with a body for. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export interface GuardedRequestInit {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
}

/**
 * Fetches a URL through the guard: the start URL, every redirect and every
 * connection are checked. Throws EgressRefusedError on a refused hop,
 * EgressLimitError on an oversized body, and the network error otherwise.
 * 303 (and 301/302 after a POST) turn into a GET without a body, as browsers do.
 */
export async function guardedFetch(
  input: string | URL,
  init: GuardedRequestInit,
  policy: EgressPolicy,
  options: GuardedFetchOptions = {},
): Promise<GuardedResponse> {
  const {
    maxRedirects = 5,
    timeoutMs = 10_000,
    maxBytes = 5 * 1024 * 1024,
    resolver = systemResolver,
  } = options;
  const signal = init.signal
    ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)])
    : AbortSignal.timeout(timeoutMs);
  let url = new URL(input);
  let method = (init.method ?? 'GET').toUpperCase();
  let body = init.body;
  for (let hop = 0; ; hop++) {
    const decision = await checkEgressUrl(url, policy, resolver);
    if (!decision.ok) throw new EgressRefusedError(decision.reason, url.href, decision.message);
    const answer = await requestOnce(
      url,
      { method, headers: init.headers ?? {}, body, signal },
      policy,
      resolver,
      maxBytes,
    );
    const location = answer.headers.get('location');
    if (REDIRECTS.has(answer.status) && location !== null) {
      if (hop >= maxRedirects) {
        throw new EgressRefusedError(
          'too-many-redirects',
          url.href,
          refusal('too-many-redirects', url.href).message,
        );
      }
      if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = new URL(location, url);
      continue;
    }
    return finalResponse(
      NULL_BODY.has(answer.status) ? null : answer.body,
      { status: answer.status, statusText: answer.statusText, headers: answer.headers },
      url.href,
      hop,
    );
  }
}

interface RawAnswer {
  readonly status: number;
  readonly statusText: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

function requestOnce(
  url: URL,
  init: {
    method: string;
    headers: Record<string, string>;
    body: string | Uint8Array | undefined;
    signal: AbortSignal;
  },
  policy: EgressPolicy,
  resolver: Resolver,
  maxBytes: number,
): Promise<RawAnswer> {
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      url,
      {
        method: init.method,
        headers: init.headers,
        signal: init.signal,
        lookup: pinnedLookup(url, policy, resolver),
        // A fresh connection per request: a pooled socket was checked for another host.
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            const error = new EgressLimitError(url.href, maxBytes);
            reject(error);
            request.destroy(error);
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value === undefined) continue;
            for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
          }
          resolve({
            status: response.statusCode ?? 0,
            statusText: response.statusMessage ?? '',
            headers,
            body: Buffer.concat(chunks),
          });
        });
      },
    );
    request.on('error', reject);
    request.end(init.body);
  });
}
