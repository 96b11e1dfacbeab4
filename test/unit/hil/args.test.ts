/** `run` and `fleet` flags: defaults, validation, and the rules that tie flags together. */
import { describe, expect, it } from 'vitest';
import { parseRunArgs, UsageError } from '../../../src/hil/cli/run-args.js';
import { parseFleetArgs } from '../../../src/hil/cli/fleet-args.js';
import { renderTemplate, shellQuote } from '../../../src/hil/targets/template.js';

describe('run flags', () => {
  it('has sensible defaults', () => {
    expect(parseRunArgs([])).toMatchObject({
      target: 'local-node',
      repeat: 1,
      timeoutS: 3600,
      list: false,
      host: '127.0.0.1',
    });
  });

  it('parses --only, --repeat and report paths', () => {
    const args = parseRunArgs([
      '--only',
      'first-pairing, used-code',
      '--repeat',
      '3',
      '--junit',
      'out/j.xml',
      '--json',
      'out/s.json',
    ]);
    expect(args.only).toEqual(['first-pairing', 'used-code']);
    expect(args.repeat).toBe(3);
    expect(args.junit).toBe('out/j.xml');
  });

  it.each([
    [['--target', 'toaster'], /--target/],
    [['--repeat', '0'], /--repeat/],
    [['--timeout-s', 'soon'], /--timeout-s/],
    [['--target', 'remote'], /--remote-cmd/],
    [['--target', 'remote', '--remote-cmd', 'ssh root@{host} consystence-edge'], /\{args\}/],
    [['--remote-cmd', 'ssh x {args}'], /only for --target remote/],
    [['--binary', '/x'], /--binary/],
    [['--net-down-cmd', 'x'], /go together/],
    [['--site-url', 'http://127.0.0.1:1'], /--cloud-url/],
    [['--bogus'], /bogus/],
    [['stray'], /stray|positional/i],
  ])('refuses %j', (argv, message) => {
    expect(() => parseRunArgs(argv)).toThrow(UsageError);
    expect(() => parseRunArgs(argv)).toThrow(message);
  });

  it('accepts a remote target with hooks', () => {
    const args = parseRunArgs([
      '--target',
      'remote',
      '--remote-cmd',
      'ssh -tt root@{host} consystence-edge {args}',
      '--remote-host',
      'orin-1',
      '--power-cycle-cmd',
      'relay 3 cycle',
      '--net-down-cmd',
      'port 4 down',
      '--net-up-cmd',
      'port 4 up',
    ]);
    expect(args).toMatchObject({ target: 'remote', remoteHost: 'orin-1', powerCycleCmd: 'relay 3 cycle' });
  });
});

describe('fleet flags', () => {
  it('needs --devices and has defaults for the rest', () => {
    expect(() => parseFleetArgs([])).toThrow(/--devices/);
    expect(parseFleetArgs(['--devices', '20'])).toMatchObject({
      devices: 20,
      rate: 10,
      durationS: 10,
      restartBroker: false,
    });
  });

  it('refuses nonsense', () => {
    expect(() => parseFleetArgs(['--devices', '-1'])).toThrow(/--devices/);
    expect(() => parseFleetArgs(['--devices', '5', '--rate', 'fast'])).toThrow(/--rate/);
  });
});

describe('command templates', () => {
  it('quotes arguments for a POSIX shell', () => {
    expect(shellQuote('--state-dir')).toBe('--state-dir');
    expect(shellQuote("it's & more")).toBe(`'it'\\''s & more'`);
  });

  it('fills {host} and {args}', () => {
    expect(
      renderTemplate('ssh root@{host} consystence-edge {args}', { host: 'orin-1', args: ['status', '--json'] }),
    ).toBe('ssh root@orin-1 consystence-edge status --json');
    expect(() => renderTemplate('ssh root@{host} x {args}', { args: [] })).toThrow(/--remote-host/);
    expect(() => renderTemplate('ssh x', { args: [] })).toThrow(/\{args\}/);
  });

  it('refuses a {host} that is not a host name or an IP address, and quotes what it substitutes', () => {
    for (const host of ['orin-1; touch /tmp/pwned', '$(id)', '`id`', 'a b', "x'y", '-oProxyCommand=id', ''])
      expect(() => renderTemplate('ssh root@{host} {args}', { host, args: [] }), host).toThrow(/--remote-host/);
    expect(renderTemplate('ssh root@{host} {args}', { host: '10.0.0.7', args: [] })).toBe('ssh root@10.0.0.7 ');
    expect(renderTemplate('ssh root@{host} {args}', { host: 'fe80::1', args: [] })).toBe('ssh root@fe80::1 ');
    expect(() => parseRunArgs(['--target', 'remote', '--remote-cmd', 'x {args}', '--remote-host', 'a;b'])).toThrow(
      /remoteHost|remote-host/,
    );
  });
});
