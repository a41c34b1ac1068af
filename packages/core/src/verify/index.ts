/**
 * `@baton/core/verify`: verify Baton access tokens on your own API, without a round trip.
 */
export {
  type AccessTokenClaims,
  AccessTokenError,
  type AccessTokenProblem,
} from '../access-token.js';
export {
  createGuard,
  expressProtect,
  fastifyProtect,
  honoProtect,
  type ProtectOptions,
  protectRequest,
  type Refusal,
} from './adapters.js';
export { createKeySource, type KeySource, type KeySourceOptions } from './key-source.js';
export {
  createIntrospectionCheck,
  createRevocationFeed,
  type IntrospectionCheckOptions,
  type RevocationCheck,
  type RevocationFeed,
  type RevocationFeedOptions,
} from './revocation-feed.js';
export { type AccessTokenVerifier, createAccessTokenVerifier, type VerifierOptions } from './verifier.js';
