/** `headroom`: start the agent, or run a subcommand (`headroom estimate …`). */
import { startAgent } from './agent.ts';
import { SUBCOMMANDS } from './commands.ts';
import { ConfigError, HELP, parseCli } from './config.ts';
import { createLogger } from './log.ts';
import { RecordingFormatError } from './recording/format.ts';

const log = createLogger('main');

async function runAgent(argv: string[]): Promise<number> {
  const parsed = parseCli(argv);
  if (parsed.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const config = parsed.config;
  // Signal handlers first: a SIGTERM that lands during start-up must still shut down cleanly.
  let stop: (signal: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  const agent = await startAgent(config);
  const link = config.token ? `${agent.url}?token=${encodeURIComponent(config.token)}` : agent.url;
  log.info(`${agent.hub.source.label} — open ${link}`);

  // The agent must outlive any fault in a listener or timer: log it and keep serving.
  process.on('uncaughtException', (e) => log.error('uncaught exception (agent keeps running)', { error: e.stack ?? String(e) }));
  process.on('unhandledRejection', (e) => log.error('unhandled rejection (agent keeps running)', { error: String(e) }));

  const signal = await stopped;
  log.info(`${signal}: stopping`);
  await agent.close();
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first !== undefined && !first.startsWith('-')) {
    const load = SUBCOMMANDS[first];
    if (!load) {
      process.stderr.write(`headroom: unknown command "${first}". Commands: ${Object.keys(SUBCOMMANDS).join(', ') || 'none'}; run headroom --help.\n`);
      return 2;
    }
    return (await load())(argv.slice(1));
  }
  return runAgent(argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ConfigError || e instanceof RecordingFormatError) {
      process.stderr.write(`headroom: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`headroom: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
