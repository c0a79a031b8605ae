import net from 'node:net';
import { errorCodeOrMessage } from '../../../lib/error-message.ts';
import { AdminChannelError } from './common.ts';

/** Connects a TCP socket; rejects with a connect error, destroys the socket on abort. */
export function connectTcp(host: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      reject(new AdminChannelError('connect', `cannot connect to ${host}:${port}: ${errorCodeOrMessage(err)}`, { cause: err }));
    });
  });
}
