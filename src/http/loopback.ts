/** Loopback addresses and names: what "this machine only" means for the sidecar's API. */

/** 127.0.0.0/8, ::1 (also IPv4-mapped) or "localhost" (any case); brackets around an IPv6 address are allowed. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The host of a Host header value ("127.0.0.1:4000", "[::1]:4000", "localhost"), without its port. */
function hostOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end === -1 ? hostHeader : hostHeader.slice(0, end + 1);
  }
  const colon = hostHeader.indexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

/**
 * Why a request to a loopback-only API must be refused as coming from a web page, or undefined. No API key guards the
 * sidecar (it holds the keys), so a page in the user's browser must not reach it:
 * - a cross-site page may send a "simple" POST without a preflight (fetch with mode "no-cors" and a body without a
 *   content type), which spends the keys though the page cannot read the answer: an `Origin` that is not loopback, or
 *   `Sec-Fetch-Site: cross-site`, is refused;
 * - DNS rebinding (a page's own host name re-pointed at 127.0.0.1) makes the page same-origin and lets it read the
 *   answers too, but its requests still name that host: a `Host` that is not loopback is refused.
 * SDKs and server-side clients send no Origin and a loopback Host, so they never see this.
 */
export function browserRefusal(headers: {
  host?: string | undefined;
  origin?: string | undefined;
  'sec-fetch-site'?: string | string[] | undefined;
}): string | undefined {
  const host = headers.host;
  if (host !== undefined && !isLoopbackHost(hostOf(host)))
    return 'the Host header does not name a loopback address (the API serves this machine only)';
  const origin = headers.origin;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).hostname;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || !isLoopbackHost(originHost))
      return 'requests from web pages of other origins are refused (the API serves this machine only)';
  }
  if (headers['sec-fetch-site'] === 'cross-site') return 'cross-site browser requests are refused';
  return undefined;
}
