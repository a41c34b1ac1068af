export {
  type AccessTokenClaims,
  AccessTokenError,
  type AccessTokenProblem,
  checkClaims,
  checkSignature,
  type DecodedAccessToken,
  decodeAccessToken,
  MAX_ACCESS_TOKEN_LENGTH,
  MAX_ACCESS_TOKEN_LIFETIME,
  signAccessToken,
  type VerifyOptions,
  verifyAccessToken,
} from './access-token.js';
export {
  type AccountDeps,
  type Accounts,
  type AccountView,
  checkPasswordPolicy,
  createAccounts,
  EMAIL_MAX_LENGTH,
  normalizeEmail,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  type PasswordHasher,
  type PublicUser,
} from './accounts.js';
export {
  AUDIT_EVENT_TYPES,
  type AuditEvent,
  type AuditEventType,
  type AuditSink,
  NOTABLE_AUDIT_EVENTS,
  noAudit,
} from './audit.js';
export {
  type AccessTokenDiagnosis,
  type DiagnoseOptions,
  diagnoseAccessToken,
  diagnoseSession,
  type SessionFacts,
  type TokenFinding,
} from './diagnose.js';
export { BatonError, type BatonErrorOptions, ERROR_TABLE, type ErrorCode, isBatonError } from './errors.js';
export {
  createKeySet,
  generateSigningKey,
  type Jwks,
  type KeyPolicy,
  type KeySet,
  type KeyState,
  keyStates,
  loadSigningKey,
  type MutableKeySet,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
  type SigningKey,
  type StoredSigningKey,
} from './keys.js';
export {
  createAttemptQueue,
  createGuardedPasswordCheck,
  createLoginThrottle,
  DEFAULT_LOGIN_THROTTLE,
  type LoginThrottle,
  type LoginThrottleOptions,
  type LoginThrottleRules,
  loginDelay,
} from './login-throttle.js';
export {
  addressBucket,
  createMemoryRateLimiter,
  enforceRateLimit,
  type RateLimiter,
  type RateRule,
  refill,
  secondsUntilOne,
} from './rate-limit.js';
export {
  deriveRefreshSecret,
  formatRefreshToken,
  parseRefreshToken,
  type RefreshTokenKey,
  type RefreshTokenParts,
} from './refresh-token.js';
export { createDenySet, type DenySet, type RevocationBus, type RevocationEvent } from './revocation.js';
export { systemClock, systemRandom } from './runtime.js';
export {
  type Authenticated,
  type ClientCheck,
  createSessions,
  type Introspection,
  isSessionLive,
  MAX_GRACE_REISSUES,
  type SessionConfig,
  type SessionDeps,
  type Sessions,
  type SessionView,
  sessionEndForAccessToken,
  sessionEndsAt,
  type TokenSet,
} from './sessions.js';
export type { SessionStore, UserStore } from './store.js';
export type { Clock, Random, RequestContext, RevokeReason, SessionRecord, UserRecord } from './types.js';
