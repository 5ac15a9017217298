import { pino, type Logger } from 'pino';

/** Field names that are redacted wherever they appear, as a second line of defence: no code logs them. */
export const REDACT_PATHS = ['privateKey', '*.privateKey', 'password', '*.password', 'ticket', '*.ticket'];

/**
 * The signer's logger: JSON lines on stderr with ISO 8601 timestamps (stdout carries only the machine-readable ready
 * line). Security-relevant lines are catalogued events (`logEvent`, docs/logging.md).
 */
export function createStderrLogger(level = 'info'): Logger {
  return pino(
    {
      name: 'clawd402-signer',
      level,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

/** A logger that discards everything: the library default when the embedder passes none. */
export function createSilentLogger(): Logger {
  return pino({ level: 'silent' });
}
