import { systemClock } from '@baton/core';
import { ConfigError, REVOCATION_LEEWAY } from '../config.js';
import { DEFAULT_CONFIG_FILE, loadEffectiveConfig } from '../config-file.js';
import { redactConfig } from '../config-redact.js';
import { migrateStore } from '../migrate.js';
import { pruneExpired } from '../pruner.js';
import { type Command, JSON_OPTION } from './args.js';
import { cliConfig, keyPolicy, withBackend } from './context.js';
import { duration, err, out, printJson, progress } from './output.js';

export const migrateCommand: Command = {
  name: 'migrate',
  usage: 'migrate [--json]',
  summary: 'bring the store schema up to date (SQLite or PostgreSQL, per configuration)',
  help: `Servers migrate on start too; run this first to upgrade before rolling out new servers.
Safe to run while servers run, and concurrently: migrations are serialised (SQLite's write
lock, a PostgreSQL advisory lock) and applied in one transaction. A progress bar is drawn on
stderr when it is a terminal (not with --json).`,
  options: JSON_OPTION,
  async run({ values }) {
    const config = cliConfig();
    const bar = progress('migrating', !values.json);
    const report = await migrateStore(config, (done, total, version) =>
      bar.update(done, total, `version ${version}`),
    ).finally(() => bar.done());
    if (values.json) {
      printJson(report);
      return 0;
    }
    if (report.applied.length === 0) {
      out(`${report.store} ${report.location}: up to date at schema version ${report.to}, nothing to apply`);
      return 0;
    }
    out(
      `${report.store} ${report.location}: schema version ${report.from} → ${report.to}, applied ${report.applied.length} migration${report.applied.length === 1 ? '' : 's'}`,
    );
    for (const m of report.applied) out(`  ${String(m.version).padStart(3)}  ${m.summary}`);
    return 0;
  },
};

export const pruneCommand: Command = {
  name: 'prune',
  usage: 'prune [--json]',
  summary: 'delete expired sessions, denied tokens and old audit events now',
  help: `What every server does each minute, now: sessions past their end or revoked longer ago
than one access-token lifetime (plus 1 min), denied access tokens past their expiry, and audit
events older than BATON_AUDIT_RETENTION or beyond BATON_AUDIT_MAX_ROWS. In batches of 500, so
running servers are not held up. Shows a running count on a terminal.`,
  options: JSON_OPTION,
  async run({ values }) {
    const config = cliConfig();
    return withBackend(config, async (backend) => {
      const doc = await backend.keys.read();
      const bar = progress('pruning', !values.json);
      const counts = await pruneExpired(
        {
          store: backend.sessions,
          clock: systemClock,
          keepRevokedFor: keyPolicy(config, doc).accessTokenTtl + REVOCATION_LEEWAY,
          audit: {
            prune: backend.pruneAudit,
            retention: config.auditRetention,
            maxRows: config.auditMaxRows,
          },
        },
        (c) => bar.update(c.sessions + c.audit, undefined, 'rows deleted'),
      ).finally(() => bar.done());
      if (values.json) printJson({ sessions_and_denied_tokens: counts.sessions, audit_events: counts.audit });
      else
        out(
          `deleted ${counts.sessions} expired or revoked session${counts.sessions === 1 ? '' : 's'} and denied access tokens, ${counts.audit} audit event${counts.audit === 1 ? '' : 's'}`,
        );
      return 0;
    });
  },
};

const DURATION_FIELD = /(Ttl|Age|Grace|Retention|Interval|Timeout|Window)$/;

export const configCheckCommand: Command = {
  name: 'config check',
  usage: 'config check [--json]',
  summary: 'validate the configuration and print it, secrets hidden',
  help: `Reads the environment over ${DEFAULT_CONFIG_FILE} (or the file in BATON_CONFIG) exactly as the
server does. Valid: prints every effective setting with secrets, passwords in URLs and token-
like settings hidden, and where the given ones came from; exit 0. Invalid: one line per
problem on stderr, exit 1.`,
  options: JSON_OPTION,
  async run({ values }) {
    let effective: ReturnType<typeof loadEffectiveConfig>;
    try {
      effective = loadEffectiveConfig();
    } catch (error) {
      if (!(error instanceof ConfigError) || !values.json) throw error;
      printJson({ valid: false, problems: error.problems });
      return 1;
    }
    const { config, file, sources, warnings } = effective;
    const shown = redactConfig(config) as Record<string, unknown>;
    if (values.json) {
      printJson({ valid: true, file, sources, warnings, config: shown });
      return 0;
    }
    for (const w of warnings) err(`baton: warning: ${w}`);
    out(`configuration is valid`);
    out(`file         ${file ?? `none (no ${DEFAULT_CONFIG_FILE} in ${process.cwd()})`}`);
    const from = (where: string): string =>
      Object.keys(sources)
        .filter((k) => sources[k] === where)
        .sort()
        .join(', ') || 'none';
    out(`from file    ${from('file')}`);
    out(`from env     ${from('environment')}`);
    out('');
    const width = Math.max(...Object.keys(shown).map((k) => k.length));
    for (const [key, value] of Object.entries(shown)) {
      const text =
        typeof value === 'number' && DURATION_FIELD.test(key)
          ? duration(value)
          : typeof value === 'string'
            ? value
            : JSON.stringify(value);
      out(`${key.padEnd(width)}  ${text}`);
    }
    return 0;
  },
};
