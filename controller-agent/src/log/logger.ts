import type { LogLevel } from '../config/config';

const ORDER: Record<LogLevel, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
};

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

function serializeError(value: unknown): unknown {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...((value as any).code !== undefined
        ? { code: (value as any).code }
        : {}),
    };
  }
  return value;
}

/**
 * One JSON object per line: `{"time","level","msg",...fields}`. Writes through `write`
 * (stdout by default) so tests can capture it.
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = line => process.stdout.write(line),
  bound: Fields = {},
): Logger {
  const min = ORDER[level];
  const emit = (lvl: LogLevel, msg: string, fields?: Fields) => {
    if (ORDER[lvl] < min) return;
    const entry: Fields = {
      time: new Date().toISOString(),
      level: lvl,
      msg,
      ...bound,
    };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) entry[k] = serializeError(v);
    }
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch {
      line = JSON.stringify({
        time: entry.time,
        level: lvl,
        msg,
        unserializableFields: true,
      });
    }
    write(`${line}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: f => createLogger(level, write, { ...bound, ...f }),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = createLogger('error', () => {});
