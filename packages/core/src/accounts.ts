import { domainToUnicode } from 'node:url';
import { type AuditSink, noAudit } from './audit.js';
import { uuidFromBytes } from './encoding.js';
import { BatonError } from './errors.js';
import type { UserStore } from './store.js';
import type { Clock, Random, RequestContext, UserRecord } from './types.js';

/** Password hashing, injected so the core stays free of native modules. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

export interface AccountDeps {
  users: UserStore;
  hasher: PasswordHasher;
  clock: Clock;
  random: Random;
  audit?: AuditSink;
}

export const PASSWORD_MIN_LENGTH = 8;
/** Caps the work an attacker can make Argon2 do per request. */
export const PASSWORD_MAX_LENGTH = 256;
export const EMAIL_MAX_LENGTH = 254;

export interface PublicUser {
  id: string;
  email: string;
  createdAt: number;
}

/** What an operator sees of an account: never the password hash. */
export interface AccountView extends PublicUser {
  disabledAt: number | null;
}

export interface Accounts {
  register(email: unknown, password: unknown, context?: RequestContext): Promise<PublicUser>;
  /** The user, or `invalid_credentials` with the same cost whether the e-mail exists or not. */
  authenticate(email: unknown, password: unknown, context?: RequestContext): Promise<PublicUser>;
  /**
   * Whether a sign-in `authenticate` returned still stands now that its session is written:
   * null when it does, else why not (the account was disabled, deleted, or its password
   * changed since the password was checked). See the login route for the ordering argument.
   */
  recheckSignIn(user: PublicUser): Promise<null | 'user_disabled' | 'user_deleted' | 'password_changed'>;
  getUser(id: string): Promise<PublicUser | null>;
  /** Checks the current password, then sets a new one (policy applies); `invalid_credentials` when wrong. */
  changePassword(userId: string, current: unknown, next: unknown, context?: RequestContext): Promise<void>;
  /** The account with this e-mail address, disabled or not (for operators); null when none. */
  findByEmail(email: unknown): Promise<AccountView | null>;
  /**
   * Stops the user signing in (`authenticate` refuses a disabled user). True when this call
   * disabled them. Their sessions are the caller's to end (`Sessions.revokeUser`).
   */
  disable(userId: string): Promise<boolean>;
  /** Lets a disabled user sign in again (their old sessions stay revoked). True when this call did it. */
  enable(userId: string): Promise<boolean>;
  /** Deletes the account (see `UserStore.deleteUser`); true when it existed. */
  remove(userId: string): Promise<boolean>;
}

// Characters that never belong in an address we accept: controls, invisible format
// characters (zero-width, bidi overrides), any space, and the specials of quoted forms.
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Z}\p{Cs}\p{Co}\p{Cn}"<>()[\]\\,;:@]/u;
// In a u-mode pattern a proper surrogate pair is one code point, so this finds only lone halves.
const LONE_SURROGATE = /\p{Cs}/u;
const DOMAIN_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/**
 * Normalises an e-mail address for uniqueness: trimmed, Unicode NFKC (so full-width and
 * other compatibility look-alikes fold to one form), lower case. Lower-casing the local part
 * is what users expect (Auth0, Supabase do the same) even though RFC 5321 lets a host treat
 * it case-sensitively. Quoted local parts and invisible characters are refused.
 */
export function normalizeEmail(email: unknown): string {
  if (typeof email !== 'string') throw invalid('email must be a string.');
  let normalized = email.trim().normalize('NFKC').toLowerCase();
  let at = normalized.lastIndexOf('@');
  // An internationalised domain has two spellings, Unicode and punycode (xn--): one account.
  if (at > 0 && /(^|\.)xn--/.test(normalized.slice(at + 1))) {
    const unicode = domainToUnicode(normalized.slice(at + 1));
    if (unicode === '') throw invalid('email is not a valid e-mail address.');
    normalized = `${normalized.slice(0, at)}@${unicode.normalize('NFKC').toLowerCase()}`;
    at = normalized.lastIndexOf('@');
  }
  const local = normalized.slice(0, at);
  const domain = normalized.slice(at + 1);
  const valid =
    at > 0 &&
    normalized.length <= EMAIL_MAX_LENGTH &&
    local.length <= 64 &&
    !FORBIDDEN.test(local) &&
    !local.startsWith('.') &&
    !local.endsWith('.') &&
    !local.includes('..') &&
    domain.split('.').every((label) => DOMAIN_LABEL.test(label)) &&
    // An all-digit last label is an IP address (a@1.2.3.4), never a host name (RFC 1123 §2.1).
    !/(^|\.)\d+$/.test(domain);
  if (!valid) throw invalid('email is not a valid e-mail address.');
  return normalized;
}

/** Checks the password policy and says which rule failed. */
export function checkPasswordPolicy(password: unknown): string {
  if (typeof password !== 'string') throw invalid('password must be a string.');
  // Lone surrogates would all collapse to U+FFFD in UTF-8, making distinct passwords equal.
  if (LONE_SURROGATE.test(password)) throw invalid('password must be well-formed Unicode text.');
  const chars = [...password];
  if (chars.length < PASSWORD_MIN_LENGTH)
    throw invalid(`password must be at least ${PASSWORD_MIN_LENGTH} characters.`);
  if (chars.length > PASSWORD_MAX_LENGTH)
    throw invalid(`password must be at most ${PASSWORD_MAX_LENGTH} characters.`);
  // Control characters (NUL, escapes) are typed by no one and mangled by many tools.
  if (/\p{Cc}/u.test(password)) throw invalid('password must not contain control characters.');
  return password;
}

function invalid(description: string): BatonError {
  return new BatonError('invalid_request', description, { description });
}

const toPublic = (u: UserRecord): PublicUser => ({ id: u.id, email: u.email, createdAt: u.createdAt });

export function createAccounts(deps: AccountDeps): Accounts {
  const { users, hasher, clock, random } = deps;
  const audit = deps.audit ?? noAudit;
  // Verified against when the e-mail is unknown, so both failures cost one Argon2 run.
  // Made at once, so that even the first unknown-e-mail login costs no extra hash.
  const dummyHash = hasher.hash(Buffer.from(random.bytes(24)).toString('base64'));
  dummyHash.catch(() => {}); // a failure surfaces at the first use instead
  const dummy = (): Promise<string> => dummyHash;
  // The hash each sign-in was checked against, kept off the returned object (it never leaves).
  const checkedHashes = new WeakMap<PublicUser, string>();

  return {
    async register(email, password, context = {}) {
      const normalized = normalizeEmail(email);
      const checked = checkPasswordPolicy(password);
      const user: UserRecord = {
        id: uuidFromBytes(random.bytes(16)),
        email: normalized,
        passwordHash: await hasher.hash(checked),
        createdAt: clock.now(),
        disabledAt: null,
      };
      if (!(await users.createUser(user)))
        throw new BatonError('email_taken', 'e-mail address already registered');
      audit.record({ type: 'user_registered', at: user.createdAt, userId: user.id, ...context });
      return toPublic(user);
    },

    async authenticate(email, password, context = {}) {
      // The same normalisation as registration (a full-width address finds its account). An
      // address registration would refuse (a NUL byte, say) finds none and fails like any login.
      let normalized = '';
      try {
        normalized = normalizeEmail(email);
      } catch {
        // malformed: the dummy hash below keeps the cost and the answer the same
      }
      const candidate =
        typeof password === 'string' && password.length <= PASSWORD_MAX_LENGTH * 4 ? password : '';
      const user = normalized ? await users.getUserByEmail(normalized) : null;
      // Unknown e-mail: the same Argon2 work against a dummy hash, result ignored.
      const verified = await hasher.verify(user ? user.passwordHash : await dummy(), candidate);
      const ok = user !== null && verified;
      if (!user || !ok || user.disabledAt !== null) {
        audit.record({ type: 'login_failed', at: clock.now(), userId: user?.id, ...context });
        throw new BatonError('invalid_credentials', 'login failed');
      }
      audit.record({ type: 'login_succeeded', at: clock.now(), userId: user.id, ...context });
      const signedIn = toPublic(user);
      checkedHashes.set(signedIn, user.passwordHash);
      return signedIn;
    },

    async recheckSignIn(signedIn) {
      const checked = checkedHashes.get(signedIn);
      if (checked === undefined) throw new Error('recheckSignIn takes what authenticate returned');
      const now = await users.getUserById(signedIn.id);
      if (!now) return 'user_deleted';
      if (now.disabledAt !== null) return 'user_disabled';
      return now.passwordHash === checked ? null : 'password_changed';
    },

    async changePassword(userId, current, next, context = {}) {
      const checked = checkPasswordPolicy(next);
      const user = await users.getUserById(userId);
      const candidate = typeof current === 'string' && !LONE_SURROGATE.test(current) ? current : '';
      if (!user || user.disabledAt !== null || !(await hasher.verify(user.passwordHash, candidate))) {
        audit.record({
          type: 'login_failed',
          at: clock.now(),
          userId,
          ...context,
          detail: { via: 'password_change' },
        });
        throw new BatonError('invalid_credentials', 'password change with a wrong current password', {
          description: 'The current password is wrong.',
        });
      }
      // Only if the password is still the one just checked: of two changes racing from the
      // same old password, one wins and the other is told its current password is wrong.
      if (!(await users.setPasswordHash(userId, await hasher.hash(checked), user.passwordHash))) {
        throw new BatonError('invalid_credentials', 'password changed meanwhile', {
          description: 'The current password is wrong.',
        });
      }
      audit.record({ type: 'password_changed', at: clock.now(), userId, ...context });
    },

    async getUser(id) {
      const user = await users.getUserById(id);
      return user && user.disabledAt === null ? toPublic(user) : null;
    },

    async findByEmail(email) {
      const user = await users.getUserByEmail(normalizeEmail(email));
      return user ? { ...toPublic(user), disabledAt: user.disabledAt } : null;
    },

    async disable(userId) {
      const at = clock.now();
      const changed = await users.disableUser(userId, at);
      if (changed) audit.record({ type: 'user_disabled', at, userId });
      return changed;
    },

    async enable(userId) {
      const changed = await users.enableUser(userId);
      if (changed) audit.record({ type: 'user_enabled', at: clock.now(), userId });
      return changed;
    },

    async remove(userId) {
      const at = clock.now();
      const existed = await users.deleteUser(userId, at);
      if (existed) audit.record({ type: 'user_deleted', at, userId });
      return existed;
    },
  };
}
