/**
 * @baton/client — browser and mobile SDK. This release ships the wire types of the HTTP
 * contract; the SDK itself (single-flight refresh, cookie mode, cross-tab locks) is issue 5.
 */

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
