import {
  BatonApiError,
  type BatonEvent,
  type ChannelLike,
  type LockManagerLike,
  type RegisteredUser,
  type SessionInfo,
  type TokenResponse,
  type TokenStorage,
  type UserInfo,
} from './types.js';

export interface BatonClientOptions {
  /** Baton's base URL; '' for the same origin. */
  baseUrl?: string;
  /** `cookie` (browsers: refresh token in an HttpOnly cookie) or `body` (other runtimes). */
  transport?: 'cookie' | 'body';
  /** Body mode: where the refresh token lives. Default: memory only. */
  storage?: TokenStorage;
  fetch?: typeof fetch;
  /** Milliseconds on a monotonic-enough clock; only differences are used, never compared with server time. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Cross-tab coordination; defaults to navigator.locks and a BroadcastChannel when present. */
  locks?: LockManagerLike | null;
  channel?: ChannelLike | null;
  /** Refresh this long before expiry (ms); default 20% of the token's lifetime, at most 60 s. */
  refreshMargin?: number;
  /** Attempts per refresh when the network fails (with exponential back-off). */
  maxAttempts?: number;
  /** Refresh on a timer before expiry (browsers); otherwise only when a token is needed. */
  autoRefresh?: boolean;
}

type Listener = (event: BatonEvent) => void;
type Message = { t: 'token'; token: string; expiresAt: number } | { t: 'signed-out' };

const memoryStorage = (): TokenStorage => {
  let value: string | null = null;
  return {
    get: () => value,
    set: (v) => {
      value = v;
    },
    remove: () => {
      value = null;
    },
  };
};

/**
 * Keeps a user signed in. The access token lives in memory only. Refreshes are
 * single-flight within a tab and, with Web Locks, across tabs: a tab that waited for the lock
 * while another refreshed takes the token the other broadcast instead of refreshing again.
 * Lifetimes come from the server's `expires_in`, measured on this device's clock from the
 * moment the response arrived, so a device clock that is off by hours does not matter.
 */
export class BatonClient {
  private readonly base: string;
  private readonly transport: 'cookie' | 'body';
  private readonly storage: TokenStorage;
  private readonly doFetch: typeof fetch;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly locks: LockManagerLike | null;
  private readonly channel: ChannelLike | null;
  private readonly options: BatonClientOptions;
  private readonly listeners = new Set<Listener>();
  private token: string | null = null;
  private expiresAt = 0;
  private lifetime = 0;
  private version = 0;
  private inflight: Promise<string | null> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: BatonClientOptions = {}) {
    const g = globalThis as unknown as {
      navigator?: { locks?: LockManagerLike };
      BroadcastChannel?: new (name: string) => ChannelLike;
      document?: unknown;
    };
    this.options = options;
    this.base = (options.baseUrl ?? '').replace(/\/$/, '');
    this.transport = options.transport ?? (g.document ? 'cookie' : 'body');
    this.storage = options.storage ?? memoryStorage();
    this.doFetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? (() => Date.now());
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.locks = options.locks === undefined ? (g.navigator?.locks ?? null) : options.locks;
    this.channel =
      options.channel === undefined
        ? g.BroadcastChannel
          ? new g.BroadcastChannel('baton')
          : null
        : options.channel;
    this.channel?.addEventListener('message', (event) => this.onMessage(event.data as Message));
    // Back online: refresh now if the token is due, instead of waiting for the next call.
    (globalThis as { addEventListener?: (type: string, fn: () => void) => void }).addEventListener?.(
      'online',
      () => {
        if (this.token) void this.getAccessToken().catch(() => this.retryLater());
      },
    );
  }

  /** Subscribes to events; returns a function that unsubscribes. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get signedIn(): boolean {
    return this.token !== null;
  }

  async signUp(email: string, password: string): Promise<RegisteredUser> {
    const body = await this.json<{ user: RegisteredUser }>('/auth/register', {
      method: 'POST',
      body: { email, password },
    });
    return body.user;
  }

  async signIn(email: string, password: string): Promise<void> {
    const tokens = await this.json<TokenResponse>('/auth/login', {
      method: 'POST',
      body: { email, password },
      auth: false,
    });
    await this.accept(tokens);
    this.emit({ type: 'signed-in' });
  }

  /** On page load: picks the session up from the cookie (or storage) if there is one. */
  async restore(): Promise<boolean> {
    return (await this.refresh()) !== null;
  }

  /** A valid access token, refreshed first when it is close to expiry; null when signed out. */
  async getAccessToken(): Promise<string | null> {
    if (this.token && this.now() < this.expiresAt - this.margin()) return this.token;
    if (!this.token && this.transport === 'body' && !(await this.storage.get())) return null;
    return this.refresh();
  }

  /**
   * `fetch` with the access token attached; on a 401 it refreshes once and retries. The token
   * goes only to Baton's own origin (relative paths, or absolute URLs on `baseUrl`'s origin):
   * a third-party URL is fetched without it, and its 401 triggers no refresh.
   */
  async fetch(input: string, init: RequestInit = {}): Promise<Response> {
    const url = /^[a-z][a-z0-9+.-]*:|^\/\//i.test(input) ? input : this.base + input;
    if (!this.isOwnUrl(url)) return this.doFetch(url, init);
    const send = (token: string | null): Promise<Response> => {
      const headers = new Headers(init.headers);
      if (token) headers.set('authorization', `Bearer ${token}`);
      return this.doFetch(url, { ...init, headers });
    };
    const token = await this.getAccessToken();
    const first = await send(token);
    if (first.status !== 401 || !token) return first;
    const renewed = await this.refresh({ force: true, stale: token });
    return renewed ? send(renewed) : first;
  }

  /** When the current access token expires, on this device's clock (from `expires_in`); 0 when signed out. */
  get accessTokenExpiresAt(): number {
    return this.token ? this.expiresAt : 0;
  }

  private isOwnUrl(url: string): boolean {
    const here = (globalThis as { location?: { href: string } }).location?.href;
    try {
      const base = new URL(this.base || here || 'http://invalid.invalid');
      return new URL(url, base).origin === base.origin;
    } catch {
      return false;
    }
  }

  me(): Promise<UserInfo> {
    return this.json<UserInfo>('/auth/me');
  }

  async sessions(): Promise<SessionInfo[]> {
    return (await this.json<{ sessions: SessionInfo[] }>('/auth/sessions')).sessions;
  }

  async revokeSession(id: string): Promise<void> {
    await this.json(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  /** Ends this session on the server and in every tab. */
  async signOut(): Promise<void> {
    await this.endSession('/auth/logout');
  }

  /** Ends every session of the user, on every device. */
  async signOutEverywhere(): Promise<void> {
    await this.endSession('/auth/logout-all');
  }

  /** Stops timers and the broadcast channel. */
  close(): void {
    clearTimeout(this.timer);
    this.channel?.close();
  }

  private margin(): number {
    return this.options.refreshMargin ?? Math.min(60_000, this.lifetime * 0.2);
  }

  private emit(event: BatonEvent): void {
    for (const l of this.listeners) l(event);
  }

  private async endSession(path: string): Promise<void> {
    const token = await this.getAccessToken().catch(() => null);
    try {
      const headers: Record<string, string> = this.cookieHeaders();
      if (token) headers.authorization = `Bearer ${token}`;
      const body =
        !token && this.transport === 'body' ? { refresh_token: await this.storage.get() } : undefined;
      await this.request(path, { method: 'POST', headers, body });
    } finally {
      await this.clear();
      this.channel?.postMessage({ t: 'signed-out' } satisfies Message);
      this.emit({ type: 'signed-out', reason: 'local' });
    }
  }

  /**
   * Single-flight refresh. Across tabs, the lock makes tabs take turns; a tab whose token
   * changed while it waited (another tab refreshed and broadcast) uses that token.
   */
  private refresh(opts: { force?: boolean; stale?: string } = {}): Promise<string | null> {
    if (this.inflight) return this.inflight;
    const startVersion = this.version;
    const run = async (): Promise<string | null> => {
      const fresh = this.token && this.now() < this.expiresAt - this.margin();
      if (this.version !== startVersion && fresh && this.token !== opts.stale) return this.token;
      if (!opts.force && fresh) return this.token;
      return this.refreshNow();
    };
    const task = this.locks ? this.locks.request('baton-refresh', run) : run();
    this.inflight = task.finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async refreshNow(): Promise<string | null> {
    const attempts = this.options.maxAttempts ?? 6;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        const body = this.transport === 'body' ? { refresh_token: await this.storage.get() } : undefined;
        if (this.transport === 'body' && !body?.refresh_token) return null;
        res = await this.request('/auth/refresh', { method: 'POST', headers: this.cookieHeaders(), body });
      } catch (error) {
        // Offline or the response was lost: keep what we have and try again a bit later.
        // A lost response is safe to retry: the server hands out the same successor.
        if (attempt + 1 >= attempts) throw error;
        await this.sleep(Math.min(30_000, 250 * 2 ** attempt));
        continue;
      }
      if (res.ok) {
        await this.accept((await res.json()) as TokenResponse);
        return this.token;
      }
      if (res.status >= 500 && attempt + 1 < attempts) {
        await this.sleep(Math.min(30_000, 250 * 2 ** attempt));
        continue;
      }
      if (res.status === 401 || res.status === 400) {
        // Only a session this client knew of can be "revoked"; a page load without a cookie is just signed out.
        const hadSession = this.token !== null;
        await this.clear();
        if (hadSession) this.emit({ type: 'revoked' });
        return null;
      }
      throw await this.apiError(res);
    }
  }

  private async accept(tokens: TokenResponse): Promise<void> {
    if (tokens.refresh_token && this.transport === 'body') await this.storage.set(tokens.refresh_token);
    this.setToken(tokens.access_token, this.now() + tokens.expires_in * 1000, tokens.expires_in * 1000);
    this.channel?.postMessage({
      t: 'token',
      token: tokens.access_token,
      expiresAt: this.expiresAt,
    } satisfies Message);
  }

  private setToken(token: string, expiresAt: number, lifetime: number): void {
    this.token = token;
    this.expiresAt = expiresAt;
    this.lifetime = lifetime;
    this.version++;
    this.emit({ type: 'refreshed', expiresAt });
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!(this.options.autoRefresh ?? this.transport === 'cookie')) return;
    const due = this.expiresAt - this.margin() - this.now();
    this.timer = setTimeout(
      () => void this.getAccessToken().catch(() => this.retryLater()),
      Math.max(1000, due),
    );
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** A timed refresh failed (offline, say): try again in a while, keeping the token. */
  private retryLater(): void {
    if (!this.token || !(this.options.autoRefresh ?? this.transport === 'cookie')) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.getAccessToken().catch(() => this.retryLater()), 15_000);
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async clear(): Promise<void> {
    clearTimeout(this.timer);
    this.token = null;
    this.expiresAt = 0;
    this.version++;
    if (this.transport === 'body') await this.storage.remove();
  }

  private onMessage(message: Message): void {
    if (message?.t === 'token') {
      const wasSignedOut = this.token === null;
      this.setToken(message.token, message.expiresAt, this.lifetime || message.expiresAt - this.now());
      if (wasSignedOut) this.emit({ type: 'signed-in' });
    } else if (message?.t === 'signed-out') {
      void this.clear().then(() => this.emit({ type: 'signed-out', reason: 'other-tab' }));
    }
  }

  private cookieHeaders(): Record<string, string> {
    return this.transport === 'cookie' ? { 'x-token-transport': 'cookie' } : {};
  }

  private request(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown },
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    return this.doFetch(this.base + path, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      credentials: this.transport === 'cookie' ? 'include' : 'same-origin',
    });
  }

  private async json<T>(
    path: string,
    init: { method?: string; body?: unknown; auth?: boolean } = {},
  ): Promise<T> {
    const wantsAuth = init.auth ?? !['/auth/register', '/auth/login'].includes(path);
    const headers: Record<string, string> = path === '/auth/login' ? this.cookieHeaders() : {};
    let res: Response;
    if (wantsAuth) {
      res = await this.fetch(this.base + path, {
        method: init.method ?? 'GET',
        headers: init.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    } else {
      res = await this.request(path, { method: init.method, headers, body: init.body });
    }
    if (!res.ok) throw await this.apiError(res);
    return (res.status === 204 ? undefined : await res.json()) as T;
  }

  private async apiError(res: Response): Promise<BatonApiError> {
    let body: Partial<{ error: string; error_description: string }> = {};
    try {
      body = await res.json();
    } catch {
      // not JSON
    }
    return new BatonApiError(
      res.status,
      body.error ?? 'http_error',
      body.error_description ?? `HTTP ${res.status}`,
    );
  }
}

/** Creates a client; see BatonClientOptions. */
export function createBatonClient(options: BatonClientOptions = {}): BatonClient {
  return new BatonClient(options);
}
