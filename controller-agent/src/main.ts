import { Agent } from './agent';
import { ConfigError, loadConfig, USAGE } from './config/config';
import { createLogger } from './log/logger';

/** Entry point of the agent process: `node --import tsx src/main.ts` or `node dist/main.cjs`. */
async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let config;
  try {
    config = loadConfig(process.env, process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      // One line per problem, JSON like every other log line, then a non-zero exit.
      const log = createLogger('error');
      log.error('the agent cannot start: invalid configuration', {
        problems: e.problems,
      });
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  let agent: Agent;
  try {
    agent = new Agent({ config, log });
  } catch (e) {
    log.error('the agent cannot start', { error: (e as Error).message });
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    agent.stop().then(
      () => process.exit(0),
      e => {
        log.error('shutdown failed', { error: e });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', reason =>
    log.error('unhandled rejection', { error: reason }),
  );
  try {
    await agent.start();
  } catch (e) {
    log.error('the agent failed to start', { error: e });
    process.exit(1);
  }
}

main();
