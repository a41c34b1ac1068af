#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { type Command, parse, shownArgument, UsageError } from './cli/args.js';
import { inspectCommand } from './cli/inspect.js';
import { auditCommands, keysCommands } from './cli/keys.js';
import { configCheckCommand, migrateCommand, pruneCommand } from './cli/maintenance.js';
import { err, out, printJson } from './cli/output.js';
import { sessionsCommands } from './cli/sessions.js';
import { usersCommands } from './cli/users.js';
import { ConfigError } from './config.js';
import { suggestion } from './suggest.js';

/**
 * `baton <command>`: operator commands on the configured store, with the server's own
 * configuration (environment over baton.config.json). Exit codes: 0 ok, 1 failure, 2 usage.
 * No command prints a token, password or secret.
 */
const serveCommand: Command = {
  name: 'serve',
  usage: 'serve',
  summary: 'run the server (same as npm start)',
  help: 'Stops cleanly on SIGTERM or SIGINT.',
  async run() {
    await import('./main.js');
    return -1; // keep running
  },
};

const COMMANDS: readonly Command[] = [
  serveCommand,
  migrateCommand,
  configCheckCommand,
  usersCommands,
  sessionsCommands,
  inspectCommand,
  pruneCommand,
  keysCommands,
  auditCommands,
].flat();

const GROUPS = [...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!))];

function overview(): string {
  const column = 40;
  const lines = COMMANDS.map((c) =>
    c.usage.length + 2 <= column
      ? `  ${c.usage.padEnd(column)}${c.summary}`
      : `  ${c.usage}\n  ${''.padEnd(column)}${c.summary}`,
  );
  return `Usage: baton <command> [options]

Commands:
${lines.join('\n')}

Every command takes --help; commands that print data take --json. Exit codes: 0 ok,
1 failure (or, for inspect, an invalid token), 2 usage error.

Configuration is the server's: the environment over baton.config.json in the working
directory (or the file named by BATON_CONFIG). See docs/cli.md.`;
}

function groupUsage(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return `Usage: baton ${group} <command> [options]\n\nCommands:\n${members.map((c) => `  baton ${c.usage}\n      ${c.summary}`).join('\n')}\n\nbaton ${group} <command> --help for details.`;
}

function commandHelp(c: Command): string {
  return `Usage: baton ${c.usage}\n\n${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.\n\n${c.help}`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function run(args: string[]): Promise<number> {
  const [first, second] = args;
  if (first === undefined) {
    err(overview());
    return 2;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    if (first === 'help' && second !== undefined) return run([...args.slice(1), '--help']);
    out(overview());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    out(version());
    return 0;
  }
  let command = COMMANDS.find((c) => c.name === first);
  let rest = args.slice(1);
  if (!command && GROUPS.includes(first)) {
    if (second === undefined || second === '--help' || second === '-h') {
      if (second === undefined)
        throw new UsageError(`${first} needs a command`, undefined, groupUsage(first));
      out(groupUsage(first));
      return 0;
    }
    command = COMMANDS.find((c) => c.name === `${first} ${second}`);
    if (!command) {
      const names = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1]!);
      throw new UsageError(
        `unknown ${first} command: ${shownArgument(second)}${suggestion(second, names)}`,
        undefined,
        groupUsage(first),
      );
    }
    rest = args.slice(2);
  }
  if (!command) {
    const names = new Set(COMMANDS.map((c) => c.name.split(' ')[0]!));
    throw new UsageError(`unknown command: ${shownArgument(first)}${suggestion(first, names)}`);
  }
  const parsed = parse(command, rest);
  if (parsed.values.help) {
    out(commandHelp(command));
    return 0;
  }
  return command.run(parsed, command);
}

/** Exits once stdout is flushed: a Redis client retrying in the background must not hold the shell. */
function exit(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) exit(code);
  },
  (error: unknown) => {
    // With --json, scripts get the failure on stdout too, as one JSON document.
    const json = process.argv.some((arg) => arg === '--json' || arg.startsWith('--json='));
    // Straight to stdout: the problems as they are, escaped by JSON alone (never by `visible`,
    // whose \u{…} is not JSON).
    const report = (kind: string, problems: string[]): void => {
      if (json) printJson({ error: kind, problems }, 0);
    };
    if (error instanceof UsageError) {
      report('usage', [error.message]);
      const usage =
        error.usage ??
        (error.command
          ? `Usage: baton ${error.command.usage}\n(baton ${error.command.name} --help for more)`
          : overview());
      err(`baton: ${error.message}\n\n${usage}`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError) {
      for (const p of error.problems) err(`baton: configuration error: ${p}`);
      report('configuration', [...error.problems]);
      process.exitCode = 1;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      err(`baton: ${message}`);
      report('failed', [message]);
      process.exitCode = 1;
    }
    exit(process.exitCode as number);
  },
);
