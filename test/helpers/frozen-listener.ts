/**
 * A real process listening on loopback, then SIGSTOPped: the kernel still completes the TCP handshake, but nothing
 * ever answers (a hung or stopped server). `release` always resumes and kills it; call it in `finally`.
 */
import { spawn } from 'node:child_process';

export async function startFrozenListener(): Promise<{ port: number; release: () => void }> {
  const child = spawn(process.execPath, [
    '-e',
    "require('node:net').createServer(() => {}).listen(0, '127.0.0.1', function () { console.log(this.address().port) })",
  ]);
  const release = () => {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the listener printed no port within 20 s')), 20_000);
      child.stdout.once('data', (chunk: Buffer) => {
        clearTimeout(timer);
        resolve(Number(String(chunk).trim()));
      });
    });
    child.kill('SIGSTOP');
    return { port, release };
  } catch (error) {
    release();
    throw error;
  }
}
