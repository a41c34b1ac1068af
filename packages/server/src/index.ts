export { type AppDeps, type AppOptions, BODY_LIMIT, buildApp } from './app.js';
export { type Config, ConfigError, loadConfig, parseDuration } from './config.js';
export { KEY_FILE_NAME, type LoadedKeys, loadOrCreateKeys } from './keys/key-file.js';
export { ARGON2_PARAMS, createArgon2Hasher } from './passwords.js';
export { LOGGER_OPTIONS, type RunningServer, type ServerOptions, startServer } from './server.js';
export { type BufferedAuditSink, createSqliteAuditSink } from './sqlite/audit-sink.js';
export { migrate, openDatabase, type SqliteDatabase } from './sqlite/database.js';
export { createSqliteSessionStore } from './sqlite/session-store.js';
export { createSqliteUserStore } from './sqlite/user-store.js';
