// Entry point: config, app, listen, graceful shutdown. Nothing else belongs here.
import closeWithGrace from 'close-with-grace';
import { buildApp, type App } from './app.js';
import { ConfigError, loadConfig, withEnvFile, type Config } from './config.js';
import { assertBootstrapPasswordStrong } from './modules/accounts/bootstrap.js';
import { assertCanListen, explainStartupFailure } from './startup-errors.js';

let config: Config;
try {
  config = loadConfig(withEnvFile(process.env));
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

/** A setup problem is one line naming the variable to fix; anything else is a bug and keeps its stack. */
function failedToStart(err: unknown): never {
  const line = explainStartupFailure(err, config);
  if (line === null) throw err;
  process.stderr.write(`${line}\n`);
  process.exit(1);
}

let app: App;
try {
  // What can be checked without the database first: a second server must not open (and migrate)
  // the data directory only to fail on its port.
  assertBootstrapPasswordStrong(config.bootstrapOperator);
  await assertCanListen(config.host, config.port);
  app = await buildApp(config);
} catch (err) {
  failedToStart(err);
}

closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an uncaught error');
  else app.log.info({ signal }, 'shutting down: draining requests in flight');
  await app.close();
  app.log.info('server closed');
});

try {
  await app.listen({ port: config.port, host: config.host });
} catch (err) {
  await app.close();
  failedToStart(err);
}
