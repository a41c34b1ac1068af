import { type ParseArgsConfig, parseArgs } from 'node:util';
import { suggestion } from '../suggest.js';

/** A mistake in how the command was called: exit code 2, with the command's usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to print, if known. */
    readonly command?: Command,
    /** The usage to print when it is not one command's (a group's list of commands). */
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

export interface Command {
  /** The words that name it: `sessions list`. */
  name: string;
  /** One line, after `baton `: `sessions list --user <email> [--json]`. */
  usage: string;
  /** One line for the overview. */
  summary: string;
  /** What `--help` adds below the usage line. */
  help: string;
  options?: Options;
  /** How many positional arguments it takes, at least and at most. */
  positionals?: [number, number];
  run(args: Parsed, command: Command): Promise<number>;
}

/**
 * Parses a command's own arguments strictly (unknown options are usage errors). Messages
 * never repeat an argument's value, which might be a password or a token pasted in the
 * wrong place.
 */
export function parse(command: Command, rawArgs: string[]): Parsed {
  // `-n=5` means what `--n=5` means (parseArgs would read the value as "=5").
  const args = rawArgs.map((arg) => {
    const short = /^-([A-Za-z])=(.*)$/s.exec(arg);
    const long = short && Object.entries(command.options ?? {}).find(([, o]) => o.short === short[1])?.[0];
    return long ? `--${long}=${short[2]}` : arg;
  });
  if (args.some((a) => a === '--password' || a.startsWith('--password='))) {
    throw new UsageError(
      'passwords are never taken from the command line: use --password-stdin or answer the prompt',
      command,
    );
  }
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const option = /'(-[^'=\s]*)/.exec(String((error as Error).message))?.[1];
    const message =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option ${shownValue(option ?? '')}${
            option?.startsWith('--')
              ? suggestion(
                  option,
                  [...Object.keys(command.options ?? {}), 'help'].map((o) => `--${o}`),
                )
              : ''
          }`.trim()
        : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
          ? /ambiguous/.test(String((error as Error).message))
            ? `${option} needs a value; one that starts with "-" is written ${option}=VALUE`
            : `${option ?? 'an option'} needs a value`
          : 'invalid arguments';
    throw new UsageError(message, command);
  }
  const [min, max] = command.positionals ?? [0, 0];
  if (!parsed.values.help) {
    if (parsed.positionals.length < min) throw new UsageError('missing argument', command);
    if (parsed.positionals.length > max) {
      throw new UsageError(`unexpected argument: ${shownArgument(parsed.positionals[max]!)}`, command);
    }
  }
  return parsed;
}

/** `--json`, the one output switch every data-printing command has. */
export const JSON_OPTION: Options = { json: { type: 'boolean' } };

/** An argument as it may be echoed in an error: short words only, never what might be a token. */
export const shownArgument = (arg: string): string =>
  arg.length <= 24 && /^[A-Za-z0-9_-]+$/.test(arg) ? arg : '(not shown)';

/**
 * A value (an e-mail address, a session id, a key id) as it may be echoed in an error: shown,
 * unless it has the shape of a token (dot-separated base64url runs) or is too long to be one
 * of those, so that a token pasted into the wrong place never comes back out.
 */
export const shownValue = (value: string): string =>
  value.length > 254 || /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/.test(value)
    ? '(not shown)'
    : value;

export const text = (v: Values, name: string): string | undefined =>
  typeof v[name] === 'string' ? (v[name] as string) : undefined;
