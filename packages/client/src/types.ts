/** The body of a successful login or refresh. `refresh_token` is absent in cookie mode. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds until the access token expires. */
  expires_in: number;
  refresh_token?: string;
  /** Seconds until the refresh token expires. */
  refresh_token_expires_in: number;
  session_id: string;
}

/** Every error body of the API. */
export interface ErrorResponse {
  error: string;
  error_description: string;
}

/** One entry of `GET /auth/sessions`; times are RFC 3339 strings. */
export interface SessionInfo {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  user_agent: string | null;
  ip: string | null;
  current: boolean;
}

export interface UserInfo {
  sub: string;
  email: string;
  session_id: string;
}

export interface RegisteredUser {
  id: string;
  email: string;
  created_at: string;
}

/** Where body mode keeps the refresh token (browsers use cookie mode instead). */
export interface TokenStorage {
  get(): string | null | Promise<string | null>;
  set(token: string): void | Promise<void>;
  remove(): void | Promise<void>;
}

/** The subset of the Web Locks API the client uses. */
export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** The subset of BroadcastChannel the client uses. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  close(): void;
}

export type BatonEvent =
  /** A new access token arrived (from this tab's refresh or another tab's). */
  | { type: 'refreshed'; expiresAt: number }
  | { type: 'signed-in' }
  /** Signed out here or in another tab. */
  | { type: 'signed-out'; reason: 'local' | 'other-tab' }
  /** The server no longer honours the session (revoked elsewhere, expired, reuse detected). */
  | { type: 'revoked' };

/** Raised for API errors; `code` is the server's stable `error` code. */
export class BatonApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, description: string) {
    super(description || code);
    this.name = 'BatonApiError';
    this.status = status;
    this.code = code;
  }
}
