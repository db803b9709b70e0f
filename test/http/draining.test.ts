import { once } from 'node:events';
import tls from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import { startTestVault } from '../support/test-vault';

/** The answers on one connection, split at each status line, once the vault has closed it. */
function answersOf(text: string): Array<{ statusLine: string; headers: Record<string, string>; body: string }> {
  return text
    .split(/(?=HTTP\/1\.1 \d{3} )/)
    .filter(Boolean)
    .map((answer) => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      return { statusLine, headers, body };
    });
}

describe('a vault that is stopping', () => {
  it('finishes the request in flight, answers the next on that connection as not ready with Connection: close, and closes it', async () => {
    // A grace far longer than the test: the connection must close because the vault closes it, not at the grace.
    const vault = await startTestVault({ PDVAULT_SHUTDOWN_GRACE_MS: '60000' });
    const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: vault.vault.port, ca: vault.ca });
    await once(socket, 'secureConnect');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = once(socket, 'close');

    // In flight: half of its body has arrived when the vault is told to stop.
    socket.write('POST /oauth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\ngrant');
    await delay(200);
    const stopped = vault.stop();
    await delay(200);
    socket.write('_typeGET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await closed;
    await stopped;

    const [first, second, ...others] = answersOf(Buffer.concat(chunks).toString('utf8'));
    expect(others).toEqual([]);
    expect(first!.statusLine).toMatch(/^HTTP\/1\.1 401 /);
    expect(second!.statusLine).toMatch(/^HTTP\/1\.1 503 /);
    expect(second!.headers.connection).toBe('close');
    expect(JSON.parse(second!.body).checks).toContainEqual({ name: 'accepting_requests', ok: false, detail: 'shutting down' });
  }, 30_000);
});
