/** `register`'s inputs and the first-boot registration file: what is accepted, and refusals that never echo the key. */
import { describe, expect, it } from 'vitest';
import { EdgeError } from '../../../../src/edge/errors.js';
import {
  normaliseSiteServerUrl,
  parseRegistrationFile,
  siteRegisterInputFrom,
} from '../../../../src/edge/site-server/register-inputs.js';

const FP = `sha256:${'3f'.repeat(32)}`;
const KEY = 'CST-EDGE-DEMO-0000-0001';

function refusal(fn: () => unknown): EdgeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EdgeError);
    return error as EdgeError;
  }
  throw new Error('expected a refusal');
}

describe('siteRegisterInputFrom', () => {
  it('normalises the URL, the key and the fingerprint (colons and capitals as technicians copy them)', () => {
    const input = siteRegisterInputFrom({
      siteServer: 'https://site-server.local:5000/',
      edgeId: 'orin-north-01',
      licenceKey: ' cst-edge-demo-0000-0001 ',
      fingerprint: `SHA256:${'3F:'.repeat(31)}3F`,
    });
    expect(input).toEqual({
      siteServerUrl: 'https://site-server.local:5000',
      edgeId: 'orin-north-01',
      licenceKey: KEY,
      fingerprint: FP,
    });
  });

  it('defaults the edge id to the host name', () => {
    expect(siteRegisterInputFrom({ siteServer: 'https://s:5000', licenceKey: KEY }, 'Orin_North.local').edgeId).toBe(
      'orin-north',
    );
  });

  it.each([
    ['plain http', { siteServer: 'http://s:5000', licenceKey: KEY }, 'https://'],
    ['user in the URL', { siteServer: 'https://u:p@s:5000', licenceKey: KEY }, 'plain base URL'],
    ['no site server', { licenceKey: KEY }, '--site-server'],
    ['no licence key', { siteServer: 'https://s:5000' }, 'licence key'],
    ['a bad edge id', { siteServer: 'https://s:5000', licenceKey: KEY, edgeId: 'Bad_Id' }, '--edge-id'],
    [
      'a short fingerprint',
      { siteServer: 'https://s:5000', licenceKey: KEY, fingerprint: 'sha256:abcd' },
      'fingerprint',
    ],
  ])('refuses %s (usage, exit 2)', (_name, flags, words) => {
    const error = refusal(() => siteRegisterInputFrom(flags));
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(words);
  });

  it('a malformed licence key is refused without being echoed', () => {
    const error = refusal(() =>
      siteRegisterInputFrom({ siteServer: 'https://s:5000', licenceKey: 'CST-EDGE-SECRET-TYPO' }),
    );
    expect(error.message).not.toContain('SECRET');
  });

  it('normaliseSiteServerUrl keeps a path prefix and drops trailing slashes', () => {
    expect(normaliseSiteServerUrl('https://site.local:5000/edge//')).toBe('https://site.local:5000/edge');
  });
});

describe('parseRegistrationFile', () => {
  it('reads key=value lines, skipping comments and blank lines', () => {
    const text = `# from the installer\n\nsite-server=https://site-server.local:5000\nfingerprint=${FP}\r\nedge-id=orin-north-01\nlicence-key=${KEY}\n`;
    expect(parseRegistrationFile(text)).toEqual({
      siteServerUrl: 'https://site-server.local:5000',
      edgeId: 'orin-north-01',
      licenceKey: KEY,
      fingerprint: FP,
    });
  });

  it('requires the fingerprint: the service has no terminal to ask on', () => {
    expect(refusal(() => parseRegistrationFile(`site-server=https://s:5000\nlicence-key=${KEY}\n`)).message).toContain(
      'fingerprint= is missing',
    );
  });

  it('refuses unknown and repeated lines, naming the line and never the key', () => {
    expect(refusal(() => parseRegistrationFile(`code=${KEY}\n`)).message).toContain('line 1');
    const twice = refusal(() => parseRegistrationFile(`licence-key=${KEY}\nlicence-key=${KEY}\nfingerprint=${FP}\n`));
    expect(twice.message).toContain('appears twice');
    expect(twice.message).not.toContain(KEY);
  });
});
