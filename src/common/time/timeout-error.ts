/** A bounded wait gave up; the message says what was waited for and for how long. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}
