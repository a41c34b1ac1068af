/**
 * @baton/client — a dependency-free SDK for browsers (cookie mode) and other runtimes
 * (body mode) that keeps a user signed in with Baton.
 */
export { BatonClient, type BatonClientOptions, createBatonClient } from './client.js';
export {
  BatonApiError,
  type BatonEvent,
  type ChannelLike,
  type ErrorResponse,
  type LockManagerLike,
  type RegisteredUser,
  type SessionInfo,
  type TokenResponse,
  type TokenStorage,
  type UserInfo,
} from './types.js';
