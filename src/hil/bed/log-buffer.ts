/**
 * The in-process mocks' logs, kept in a bounded ring instead of the rig's stderr: a passing scenario stays
 * quiet, a failing one gets the mocks' last lines in its diagnostics.
 */
import { createLogger, type Logger } from '../../common/log/log.js';

export class LogBuffer {
  private readonly lines: string[] = [];
  constructor(private readonly max = 1000) {}

  logger(component: string): Logger {
    return createLogger({ level: 'debug', base: { component }, write: (line) => this.push(line.trimEnd()) });
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }

  text(): string {
    return this.lines.join('\n');
  }
}
