/**
 * The site server's self-signed edge listener is valid from 1970 (outside tester: a device whose clock was a day
 * behind the site server's could never download an update: "certificate is not yet valid"). A real mock cloud and
 * site server; curl verifies the listener against its own certificate under libfaketime, as a board without a
 * clock battery would at 2001, and at 1970 plus a day.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/tmp.js';
import { startCloudSite, startSiteServer } from './helpers/site.js';

const run = promisify(execFile);
// The site server runs in this process: the client must not block its event loop (no execFileSync).
const hasFaketime = spawnSync('faketime', ['-f', '+0', 'true']).status === 0;

/** The certificate the listener presents, as PEM (read without verifying it). */
function presentedCertificate(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      resolve(new X509Certificate(raw).toString());
    });
    socket.on('error', reject);
  });
}

describe('the edge listener and a device clock behind the site server', () => {
  it.skipIf(!hasFaketime)(
    `a fresh self-signed identity is valid from 1970: a client at 2001 or 1970 verifies it${hasFaketime ? '' : ' (skipped: needs faketime)'}`,
    async () => {
      const site = await startCloudSite();
      const server = await startSiteServer(site);
      const pem = await presentedCertificate(server.edgeUrl);
      expect(Date.parse(new X509Certificate(pem).validFrom)).toBe(0);
      const ca = join(tempDir('cst-listener-clock-'), 'listener.pem');
      writeFileSync(ca, pem);
      for (const when of ['@2001-01-01 00:00:00', '@1970-01-02 00:00:00']) {
        const { stdout: out } = await run('faketime', [
          ...['-f', when, 'curl', '-sS', '--cacert', ca, '-o', '/dev/null'],
          ...['-w', '%{http_code}', `${server.edgeUrl}/health`],
        ]);
        expect(out, when).toMatch(/^\d{3}$/);
      }
    },
  );
});
