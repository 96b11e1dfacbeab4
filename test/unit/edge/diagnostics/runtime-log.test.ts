/** The service's log (stderr and the real edge.log in a temp state dir) never holds the device's own secrets. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOG_FILE } from '../../../../src/edge/diagnostics/log-file.js';
import { createRuntimeLog } from '../../../../src/edge/diagnostics/runtime-log.js';
import { secretVariants } from '../../../../src/edge/diagnostics/secrets.js';
import { tempDir } from '../../../helpers/tmp.js';

describe('runtime log scrubbing', () => {
  it('removes the token percent-encoded or in a 40-character slice, from stderr and edge.log', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJvcmluLTEifQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
    const stateDir = tempDir('cst-rlog-');
    const stderr: string[] = [];
    const log = createRuntimeLog({ stateDir, level: 'info', stderr: (l) => stderr.push(l) });
    log.scrubSecrets(() => secretVariants([token]));
    log.logger.warn('config_rejected', { reason: `unknown ${token.replaceAll('.', '%2E')}` });
    log.logger.warn('something', { note: `a slice: ${token.slice(25, 65)}` });
    log.close();
    const file = readFileSync(join(stateDir, LOG_FILE), 'utf8');
    for (const text of [file, stderr.join('')]) {
      expect(text).toContain('config_rejected');
      for (let i = 0; i + 16 <= token.length; i++) expect(text).not.toContain(token.slice(i, i + 16));
    }
  });
});
