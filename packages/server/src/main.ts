import { type Config, ConfigError } from './config.js';
import { loadEffectiveConfig } from './config-file.js';
import { LOGGER_OPTIONS, startServer } from './server.js';

/** A signal within this long of the first is the same one delivered twice, not a second request. */
const SAME_SIGNAL_MS = 200;

/** `npm start`: read the configuration (environment over baton.config.json), serve, and stop cleanly on SIGTERM or SIGINT. */
async function main(): Promise<void> {
  let config: Config;
  try {
    const effective = loadEffectiveConfig();
    for (const warning of effective.warnings) console.error(`baton: warning: ${warning}`);
    config = effective.config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`baton: configuration error: ${problem}`);
    process.exit(1);
  }

  const server = await startServer(config, {
    logger: { ...LOGGER_OPTIONS, level: config.logLevel },
  });
  let closing = false;
  let firstSignalAt = 0;
  const shutdown = (signal: string): void => {
    if (closing) {
      // Asked twice (a second Ctrl-C): stop waiting for requests in flight. Not when the same
      // signal comes again at once: `npm start` forwards the SIGINT or SIGTERM its process
      // group already delivered, a few milliseconds later.
      if (signal !== 'parent exited' && Date.now() - firstSignalAt >= SAME_SIGNAL_MS) {
        server.app.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      return;
    }
    closing = true;
    firstSignalAt = Date.now();
    server.app.log.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (process.env.npm_command === 'exec') followParent(() => shutdown('parent exited'));
}

/**
 * `npx baton serve` runs under `npm exec`, which dies on SIGTERM without passing the signal
 * through its shell to us. Noticing that our parent has gone turns that into a clean stop
 * instead of an orphaned server.
 */
function followParent(onExit: () => void): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) {
      clearInterval(timer);
      onExit();
    }
  }, 250);
  timer.unref();
}

main().catch((error: unknown) => {
  console.error(`baton: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
