/** How an app resolves the client address behind proxies; see docs/http.md. */
export type ProxyTrust = 'none' | 'all' | 'hops';

/** What {@link proxyTrustWarning} looks at. */
export interface ProxyTrustInput {
  /** The request's headers, lower-case names (Node's `req.headers`). */
  readonly headers: Readonly<Record<string, unknown>>;
  readonly trust: ProxyTrust;
  /** Words the fix in this framework's settings. */
  readonly framework?: 'express' | 'koa';
  /** The field the framework reads (Koa's `proxyIpHeader`). @default 'X-Forwarded-For' */
  readonly field?: string;
}

const FIX = {
  express: "app.set('trust proxy', 1) for one proxy in front (the number of proxies you run, or their addresses)",
  koa: 'app.proxy = true with app.maxIpsCount = 1 for one proxy in front (the number of proxies you run)',
  other: 'trust exactly the proxies you run (their number or their addresses) in your framework’s proxy setting',
} as const;

/** The warning to log once for a client-IP misconfiguration behind proxies (docs/http.md), or `undefined`. */
export function proxyTrustWarning(input: ProxyTrustInput): string | undefined {
  const { headers, trust, framework, field = 'X-Forwarded-For' } = input ?? ({} as ProxyTrustInput);
  if (trust !== 'none' && trust !== 'all' && trust !== 'hops') {
    throw new TypeError(`proxyTrustWarning: trust: expected 'none', 'all' or 'hops', received ${String(trust)}`);
  }
  const read = headers?.[field.toLowerCase()] !== undefined;
  const header =
    headers?.['x-forwarded-for'] !== undefined
      ? 'X-Forwarded-For'
      : read
        ? field
        : headers?.forwarded !== undefined
          ? 'Forwarded'
          : undefined;
  if (header === undefined) return undefined;
  const fix = FIX[framework ?? 'other'];
  // Express and Koa read one field, never Forwarded: without that field the socket is the client.
  if (framework && headers.forwarded !== undefined && !read) {
    return (
      `Requests arrive with Forwarded but no ${field}, the only field ${framework === 'koa' ? 'Koa' : 'Express'} ` +
      `reads: every client has the proxy's address, so rate limits by IP become one limit for every client. ` +
      `Fix: have the proxy send ${field}${trust === 'hops' ? '' : `, and ${fix}`}.`
    );
  }
  if (trust === 'hops') return undefined;
  if (trust === 'none') {
    return (
      `Requests arrive with ${header} but the app trusts no proxy: every client behind the proxy has the ` +
      `proxy's address, so rate limits by IP become one limit for every client and one busy client locks ` +
      `the others out. Fix: ${fix}. If no proxy of yours sets ${header}, strip it at the edge.`
    );
  }
  return (
    `The app trusts every proxy, so the client address is the leftmost ${header} entry, which the client ` +
    `writes itself: anyone can spoof it with each request and escape rate limits by IP. Fix: ${fix}.`
  );
}
