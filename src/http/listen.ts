/** The one way our servers start listening: resolves with the URL they can be reached at. */
import type { Server } from 'node:net';

/**
 * Listens on host:port (port 0 picks a free one) and returns `http://host:port`, IPv6 hosts in brackets. `backlog`:
 * how many connections the kernel may hold for accept (Node's default is 511; the kernel caps it at somaxconn).
 */
export function listen(
  server: Server,
  host: string,
  port: number,
  scheme = 'http',
  backlog?: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen({ port, host, ...(backlog !== undefined ? { backlog } : {}) }, () => {
      server.off('error', onError);
      resolve(serverUrl(server, scheme));
    });
  });
}

/** The URL of a listening server. */
export function serverUrl(server: Server, scheme = 'http'): string {
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('server is not listening on a TCP port');
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `${scheme}://${host}:${a.port}`;
}
