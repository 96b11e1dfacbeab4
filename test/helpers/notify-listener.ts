/**
 * A fake systemd NOTIFY_SOCKET: a real AF_UNIX datagram socket bound by a python3 child (Node has no datagram Unix
 * socket), printing each datagram as one line ("READY=1|STATUS=…": newlines shown as "|"). A path starting with "@"
 * is an abstract socket.
 */
import { runToEnd, startProcess, type Child } from './process.js';

const LISTENER = `
import socket, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\\0" + path[1:] if path.startswith("@") else path)
print("listening", flush=True)
while True:
    print(s.recv(4096).decode().replace("\\n", "|"), flush=True)
`;

export const hasNotifyListener = async () => (await runToEnd('python3', ['-c', 'import socket'])).code === 0;

export async function startNotifyListener(path: string): Promise<Child> {
  const listener = startProcess('python3', ['-c', LISTENER, path]);
  await listener.waitForLine((l) => l.text === 'listening');
  return listener;
}

/** How many datagrams so far start with `text` ("WATCHDOG=1", "READY=1"…). */
export const notifications = (listener: Child, text: string) =>
  listener.lines.filter((l) => typeof l.text === 'string' && l.text.startsWith(text)).length;
