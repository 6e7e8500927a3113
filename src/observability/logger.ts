import winston from 'winston';

export type Logger = winston.Logger;
export type LogFormat = 'json' | 'text';

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Where lines go; defaults to stderr. Tests pass a stream to capture output. */
  stream?: NodeJS.WritableStream;
}

/** Structured logger. Callers derive children per reconcile: `log.child({ kind, namespace, name })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format =
    options.format === 'text'
      ? winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.simple())
      : winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json());
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Stream({ stream: process.stderr });
  return winston.createLogger({ level: options.level ?? 'info', format, transports: [transport] });
}

/** A logger that drops everything, for unit tests that don't inspect logs. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
