import { ConfigError, loadConfig } from './config.js';
import { LOGGER_OPTIONS, startServer } from './server.js';

/** `npm start`: read the configuration, serve, and stop cleanly on SIGTERM or SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) console.error(`baton: configuration error: ${problem}`);
    process.exit(1);
  }

  const server = await startServer(config, {
    logger: { ...LOGGER_OPTIONS, level: config.logLevel },
  });
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    server.app.log.info({ signal }, 'shutting down');
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(`baton: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
