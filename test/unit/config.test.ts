import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_HOST, DEFAULT_PORT, parseCli } from '../../server/config.ts';

function config(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = parseCli(argv, env);
  if (r.help) throw new Error('help');
  return r.config;
}

describe('parseCli()', () => {
  it('defaults to auto source on 127.0.0.1 with the bundled recording', () => {
    const c = config([]);
    expect(c).toMatchObject({ source: 'auto', host: DEFAULT_HOST, port: DEFAULT_PORT, replaySpeed: 1, token: null });
    expect(c.replayFile).toMatch(/server\/recordings\/h200-serving\.jsonl$/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes flag over environment over default', () => {
    expect(config([], { HEADROOM_PORT: '9000' }).port).toBe(9000);
    expect(config(['--port', '9100'], { HEADROOM_PORT: '9000' }).port).toBe(9100);
  });

  it('answers --help', () => {
    expect(parseCli(['--help'], {})).toEqual({ help: true });
    expect(parseCli(['-h'], {})).toEqual({ help: true });
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'.*headroom --help/],
    [['--source', 'gpu'], /--source: must be auto, replay or live/],
    [['--port', 'abc'], /--port: must be a number/],
    [['--port', '70000'], /--port: must be 0–65535/],
    [['--interval-ms', '5'], /--interval-ms: must be at least 20 ms/],
    [['--replay-speed', '0'], /--replay-speed: must be above 0/],
    [['--webhook', 'not a url'], /--webhook: must be an http\(s\) URL/],
    [['--host', '0.0.0.0'], /needs an access token: pass --token/],
  ])('rejects %j with a message that says what to do', (argv, message) => {
    expect(() => parseCli(argv, {})).toThrow(ConfigError);
    expect(() => parseCli(argv, {})).toThrow(message);
  });

  it('allows a non-loopback host with a token', () => {
    expect(config(['--host', '0.0.0.0', '--token', 'sekrit-123']).token).toBe('sekrit-123');
    expect(config(['--host', '0.0.0.0'], { HEADROOM_TOKEN: 'from-env-1' }).token).toBe('from-env-1');
  });
});
