import { connect } from 'node:net';

/** Sends raw bytes to a loopback server and resolves with the status line of the answer (or how the connection ended). */
export function raw(url: string, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('error', (error) => resolve(`error ${(error as NodeJS.ErrnoException).code}`));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.end(bytes);
  });
}
