/** The pinned transport's HTTP/1.1 reader: content-length, chunked, read-to-close, and a cut answer. */
import { describe, expect, it } from 'vitest';
import { answerComplete, parseResponse } from '../../../../src/edge/site-server/pinned-https.js';

const raw = (text: string) => Buffer.from(text, 'latin1');

describe('parseResponse', () => {
  it('reads a body by content-length', async () => {
    const response = parseResponse(raw('HTTP/1.1 201 Created\r\ncontent-length: 7\r\nx-a: 1\r\n\r\n{"a":1}'), false);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-a')).toBe('1');
    expect(await response.json()).toEqual({ a: 1 });
  });

  it('reads a chunked body', async () => {
    const response = parseResponse(
      raw('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n'),
      false,
    );
    expect(await response.json()).toEqual({ a: 1 });
  });

  it('reads to the end without a length', async () => {
    expect(await parseResponse(raw('HTTP/1.0 200 OK\r\n\r\nhello'), false).text()).toBe('hello');
  });

  it('a body shorter than announced is a broken stream, as fetch gives it', async () => {
    const response = parseResponse(raw('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"a"'), false);
    await expect(response.text()).rejects.toThrow();
  });

  it('refuses what is not HTTP', () => {
    expect(() => parseResponse(raw('SSH-2.0-OpenSSH\r\n\r\n'), false)).toThrow('not an HTTP answer');
    expect(() => parseResponse(raw('HTTP/1.1 200 OK\r\n'), false)).toThrow();
  });

  it('knows when an answer is whole by its framing, so a server that keeps the connection open does not stall it', () => {
    expect(answerComplete(raw('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'))).toBe(true);
    expect(answerComplete(raw('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n{}'))).toBe(false);
    expect(answerComplete(raw('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n'))).toBe(false);
    expect(answerComplete(raw('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'))).toBe(true);
    expect(answerComplete(raw('HTTP/1.0 200 OK\r\n\r\nhello'))).toBe(false);
  });
});
