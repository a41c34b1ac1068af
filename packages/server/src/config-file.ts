import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Config, ConfigError, loadConfig } from './config.js';
import { redactVariable } from './config-redact.js';
import { closest, suggestion } from './suggest.js';

/**
 * The optional configuration file, `baton.config.json` in the working directory or the file
 * named by `BATON_CONFIG`. Its keys are the environment variables' names, so one validator
 * (`loadConfig`) serves both and the README's table documents both:
 *
 *   { "BATON_ACCESS_TOKEN_TTL": "15m", "BATON_ALLOWED_ORIGINS": ["https://app.example"] }
 *
 * Values are strings, numbers, booleans, or arrays of strings (joined with commas). The
 * environment wins over the file; an empty variable counts as unset. Relative paths in the
 * file (keys ending in _DIR, _FILE or _PATH) are relative to the file, not to the working
 * directory. Every problem is reported at once, naming the file and the key.
 */
export const DEFAULT_CONFIG_FILE = 'baton.config.json';

export interface EffectiveConfig {
  config: Config;
  /** The file that was read, or null. */
  file: string | null;
  /** Where each setting that was given came from (defaults are not listed). */
  sources: Record<string, 'file' | 'environment'>;
  /** Things worth telling the operator that do not stop Baton. */
  warnings: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The configuration Baton runs with: the file merged under the environment, validated.
 * Throws `ConfigError` with one line per problem.
 */
export function loadEffectiveConfig(env: Env = process.env, cwd: string = process.cwd()): EffectiveConfig {
  const given = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const explicit = given('BATON_CONFIG');
  const path = resolve(cwd, explicit?.trim() ?? DEFAULT_CONFIG_FILE);
  const problems: string[] = [];
  const warnings: string[] = [];

  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || explicit !== undefined) {
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(code);
      throw new ConfigError([
        explicit !== undefined ? `BATON_CONFIG=${path}: ${why}` : `${path}: cannot be read (${why})`,
      ]);
    }
  }

  const fromFile: Record<string, string> = Object.create(null);
  const misshapen: string[] = [];
  // Wrong JSON types, told only once the key is known to be a setting (else: unknown key).
  const mistyped: Array<[key: string, problem: string]> = [];
  if (text !== null) {
    const parsed = parseJson(text, path);
    for (const [key, value] of Object.entries(parsed)) {
      // Only names shaped like environment variables: `__proto__` or `constructor` would
      // otherwise reach object internals.
      if (!/^[A-Z][A-Z0-9_]*$/.test(key)) {
        misshapen.push(key);
        continue;
      }
      if (key === 'BATON_CONFIG') {
        problems.push(`${path}: BATON_CONFIG cannot be set inside a configuration file`);
        continue;
      }
      const converted = fileValue(key, value);
      if (typeof converted === 'object') {
        mistyped.push([key, converted.problem]);
        continue;
      }
      fromFile[key] =
        /(_DIR|_FILE|_PATH)$/.test(key) && !isAbsolute(converted) && converted.trim() !== ''
          ? resolve(dirname(path), converted)
          : converted;
    }
    // A secret is anything config output would hide: a secret setting, or a URL's password.
    const holdsSecrets = Object.entries(fromFile).some(
      ([key, value]) => redactVariable(key, value) !== value,
    );
    if (holdsSecrets && (statSync(path).mode & 0o077) !== 0) {
      warnings.push(`${path} holds secrets and is readable by other users (chmod 600 it)`);
    }
  }

  const sources: Record<string, 'file' | 'environment'> = {};
  const merged: Record<string, string | undefined> = { ...env };
  for (const [key, value] of Object.entries(fromFile)) {
    if (given(key) === undefined) {
      merged[key] = value;
      sources[key] = 'file';
    }
  }

  // The settings Baton knows are the ones loadConfig reads: recorded as it reads them, so a
  // setting added to config.ts is accepted in the file with no list to keep in step.
  const known = new Set<string>();
  const tracked = new Proxy(merged, {
    get(target, key) {
      if (typeof key === 'string') known.add(key);
      return target[key as string];
    },
  });
  let config: Config | null = null;
  try {
    config = loadConfig(tracked);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) {
      const name = /^([A-Z][A-Z0-9_]*)(=| is invalid)/.exec(problem)?.[1];
      problems.push(name && sources[name] === 'file' ? `${path}: ${problem}` : problem);
    }
  }
  for (const [key, problem] of mistyped) {
    if (known.has(key)) problems.push(`${path}: ${key} ${problem}`);
  }
  for (const key of [...Object.keys(fromFile), ...mistyped.map(([key]) => key)]) {
    if (!known.has(key)) problems.push(`${path}: unknown key ${key}${suggestion(key, known)}`);
  }
  // Names not shaped like environment variables (`baton_demo`, `__proto__`) are never read.
  for (const key of misshapen) {
    const near = closest(key.toUpperCase(), known);
    problems.push(
      `${path}: unknown key ${JSON.stringify(key).slice(0, 40)}${near ? ` (did you mean ${near}?)` : ''}`,
    );
  }
  for (const name of known) {
    if (given(name) !== undefined && sources[name] === undefined) sources[name] = 'environment';
  }
  if (problems.length > 0 || config === null) throw new ConfigError(problems);
  return { config, file: text === null ? null : path, sources, warnings };
}

function parseJson(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    let where = '';
    if (position) {
      const before = text.slice(0, Number(position[1]));
      const line = before.split('\n').length;
      where = ` at line ${line}, column ${Number(position[1]) - before.lastIndexOf('\n')}`;
    }
    throw new ConfigError([`${path}: invalid JSON${where}: ${message.split('\n')[0]}`]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError([`${path}: expected a JSON object of settings, such as {"PORT": 8080}`]);
  }
  return value as Record<string, unknown>;
}

/** Settings that are lists (comma-separated in the environment): a JSON array in the file. */
const LIST_SETTINGS = new Set([
  'BATON_ALLOWED_ORIGINS',
  'BATON_CLIENTS',
  'BATON_RESOURCE_SERVERS',
  'BATON_TRUSTED_PROXIES',
]);
/** Settings that are on or off: a JSON boolean in the file. */
const SWITCH_SETTINGS = new Set(['BATON_DEMO', 'BATON_API_DOCS']);
/** Settings that are counts, ports or durations (a number of seconds): a JSON number in the file. */
const NUMBER_SETTINGS = new Set([
  'PORT',
  'BATON_METRICS_PORT',
  'BATON_AUDIT_MAX_ROWS',
  'BATON_LOGIN_FREE_FAILURES',
  'BATON_ACCESS_TOKEN_TTL',
  'BATON_REFRESH_IDLE_TTL',
  'BATON_SESSION_MAX_AGE',
  'BATON_REUSE_GRACE',
  'BATON_AUDIT_RETENTION',
  'BATON_LOGIN_MAX_DELAY',
]);

/**
 * A file value as the environment would spell it, or what is wrong with it. Besides strings,
 * each setting takes the JSON type that fits it, and only that one ({"HOST": ["a","b"]} is
 * refused, not read as "a,b").
 */
function fileValue(key: string, value: unknown): string | { problem: string } {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && NUMBER_SETTINGS.has(key)) {
    return Number.isFinite(value) ? String(value) : { problem: 'must be a finite number' };
  }
  if (typeof value === 'boolean' && SWITCH_SETTINGS.has(key)) return value ? 'true' : 'false';
  if (Array.isArray(value) && LIST_SETTINGS.has(key)) {
    if (!value.every((v) => typeof v === 'string')) return { problem: 'must be an array of strings' };
    const items = value.map(String);
    if (items.some((v) => v.includes(',')))
      return { problem: 'has an array item containing a comma (give each item separately)' };
    return items.join(',');
  }
  const type = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
  const allowed = LIST_SETTINGS.has(key)
    ? 'a string or an array of strings'
    : SWITCH_SETTINGS.has(key)
      ? 'a boolean or a string'
      : NUMBER_SETTINGS.has(key)
        ? 'a number or a string'
        : 'a string';
  return { problem: `must be ${allowed}, not ${type}` };
}
