/**
 * Keeps secrets out of what Baton prints about its configuration (start-up errors, `baton
 * config check`): secret-bearing settings are hidden, and a URL keeps everything but its
 * password. The rules go by name, so settings added later are covered when their names say
 * what they hold (…_SECRET, …_TOKEN, …_PASSWORD, …_KEY, …Secret, …Token).
 */

export const HIDDEN = '[hidden]';

/** Environment names that hold secrets, wholly or in part (`id:secret` lists). */
const SECRET_VARIABLE =
  /(SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIALS?|_KEY|APIKEY)$|^BATON_(RESOURCE_SERVERS|CLIENTS)$/;
/** Config field names that hold secrets (`accessTokenTtl` is a duration, not a token). */
const SECRET_FIELD = /(secret|password|passwd|token|credentials?|apiKey|privateKey)$/i;

/** Settings whose names end like secrets but hold none (`BATON_RATE_LIMIT_TOKEN` is a rate). */
const NOT_SECRET = /^BATON_RATE_LIMIT_/;

/** True for a variable whose value must never be shown. */
export function isSecretVariable(name: string): boolean {
  return SECRET_VARIABLE.test(name) && !NOT_SECRET.test(name);
}

/** A connection setting (`DATABASE_URL`, `REDIS_URL`): it may carry a password in any form. */
const CONNECTION_VARIABLE = /_URL$/;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * `postgres://user:pw@host/db` → `postgres://user:[hidden]@host/db`; `password=…` pairs of a
 * key=value connection string hidden too; other text unchanged.
 */
// `scheme://user:password@`, the password running to the last `@` in the text: a password
// holding `@`, `/`, `:`, `?`, `#` or a space (unencoded; some drivers take it, others fail on
// it, and either way it is shown in errors) is hidden whole, never cut at an odd character. A
// URL with an `@` further on (in its path) loses a little more than its password: the safe side.
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)([^:@]*)(?::(.*))?@(?=[^@]*$)/is;

export function redactUrl(text: string): string {
  // Also covers text that is not a valid URL: anything between `scheme://user:` and `@`.
  // A query string may carry a credential too (`?token=…`): its values are hidden.
  return text
    .replace(/\b(password|passwd|pwd)(\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, `$1$2${HIDDEN}`)
    .replace(USER_INFO, (_m, head: string, user: string, password?: string) =>
      password === undefined ? `${head}${user}@` : `${head}${user}:${HIDDEN}@`,
    )
    .replace(
      /^([a-z][a-z0-9+.-]*:\/\/[^?#\s]*\?)([^#\s]*)/i,
      (_m, head: string, q: string) => head + q.replace(/=([^&]*)/g, `=${HIDDEN}`),
    );
}

/** How a variable's value may be shown. */
export function redactVariable(name: string, value: string): string {
  if (isSecretVariable(name)) return value.trim() === '' ? value : HIDDEN;
  // A connection setting that is not in URL form is not shown at all: who knows where its
  // password sits.
  if (CONNECTION_VARIABLE.test(name) && value.trim() !== '' && !SCHEME.test(value.trim())) return HIDDEN;
  return redactUrl(value);
}

/**
 * A deep copy of a configuration object with secrets hidden: fields named like secrets,
 * and passwords inside URLs.
 */
export function redactConfig(value: unknown, key = ''): unknown {
  if (value === null || value === undefined) return value;
  if (SECRET_FIELD.test(key) && typeof value !== 'object') return HIDDEN;
  if (typeof value === 'string') return redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => redactConfig(v));
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  }
  return value;
}
