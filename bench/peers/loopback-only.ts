/** Preload for peers that bind every interface: makes a host-less listen() bind 127.0.0.1 instead. */
import net from 'node:net';

const listen = net.Server.prototype.listen as (...args: unknown[]) => net.Server;
net.Server.prototype.listen = function loopbackListen(this: net.Server, ...args: unknown[]) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') {
      if (args[1] === undefined || args[1] === null) args[1] = '127.0.0.1';
      else args.splice(1, 0, '127.0.0.1');
    }
  } else if (args[0] && typeof args[0] === 'object' && !('path' in args[0]) && !('host' in args[0])) {
    args[0] = { ...(args[0] as object), host: '127.0.0.1' };
  }
  return listen.apply(this, args);
} as typeof net.Server.prototype.listen;
