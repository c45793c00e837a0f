/**
 * Namespaced logger. Info and above by default; `HEADROOM_DEBUG=replay,hub` (or `*`) enables debug per
 * namespace; `HEADROOM_LOG_FORMAT=json` writes one JSON object per line. Always to stderr, so stdout
 * stays for command output (`headroom estimate --json`).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const debugSpec = (process.env.HEADROOM_DEBUG ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const jsonFormat = process.env.HEADROOM_LOG_FORMAT === 'json';
let quiet = process.env.HEADROOM_LOG_QUIET === '1';

/** Tests silence the agent's log with this. */
export function setLogQuiet(value: boolean): void {
  quiet = value;
}

function debugEnabled(namespace: string): boolean {
  return debugSpec.includes('*') || debugSpec.includes(namespace);
}

export function createLogger(namespace: string): Logger {
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (quiet && level !== 'error') return;
    if (level === 'debug' && !debugEnabled(namespace)) return;
    if (jsonFormat) {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, namespace, message, ...fields })}\n`);
      return;
    }
    const extra = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    process.stderr.write(`[headroom:${namespace}] ${level === 'info' ? '' : `${level}: `}${message}${extra}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
