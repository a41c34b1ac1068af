import type { Accounts } from '@baton/core';
import { systemClock } from '@baton/core';
import { type Command, JSON_OPTION, shownValue, text, UsageError } from './args.js';
import { cliConfig, type Operator, withOperator } from './context.js';
import { err, isoTime, out, printJson, table } from './output.js';

/** The account behind an e-mail address, or a failure naming it. */
export async function accountFor(accounts: Accounts, email: string) {
  const account = await accounts.findByEmail(email).catch(() => {
    throw new Error(`not a valid e-mail address: ${shownValue(email)}`);
  });
  if (!account) throw new Error(`no user with e-mail address ${shownValue(email)}`);
  return account;
}

/**
 * Prints what a revoking command did, as text or JSON, and says whether the revocations
 * reached the cluster: exit code 1 and a warning when they did not. Under --json the
 * document then also carries `error` and `problems`, as every failure there does.
 */
export function reportRevocation(op: Operator, json: unknown, data: object, line: string): number {
  const problem = op.fanOutProblem();
  const warning = problem === null ? null : `revoked in the store, but not announced: ${problem}`;
  if (json) printJson(warning === null ? data : { ...data, error: 'not_announced', problems: [warning] });
  else out(line);
  if (warning === null) return 0;
  err(`baton: warning: ${warning}`);
  return 1;
}

export const sessionsCommands: Command[] = [
  {
    name: 'sessions list',
    usage: 'sessions list --user <email> [--json]',
    summary: "a user's live sessions",
    help: 'Columns: id, client, created, last used, expires (idle or absolute, whichever is first), IP, user agent.',
    options: { ...JSON_OPTION, user: { type: 'string' } },
    async run({ values }, command) {
      const email = text(values, 'user');
      if (!email) throw new UsageError('--user <email> is required', command);
      return withOperator(cliConfig(), async ({ accounts, sessions }) => {
        const account = await accountFor(accounts, email);
        const list = (await sessions.list(account.id)).map((s) => ({
          id: s.id,
          client_id: s.clientId,
          created_at: isoTime(s.createdAt),
          last_used_at: isoTime(s.lastUsedAt),
          expires_at: isoTime(s.expiresAt),
          ip: s.ip,
          user_agent: s.userAgent,
        }));
        if (values.json) {
          printJson({ user: { id: account.id, email: account.email }, sessions: list });
          return 0;
        }
        if (list.length === 0) {
          out(`${account.email} has no live sessions`);
          return 0;
        }
        const rows = list.map((s) => [
          s.id,
          s.client_id,
          s.created_at,
          s.last_used_at,
          s.expires_at,
          s.ip ?? '-',
          s.user_agent ?? '-',
        ]);
        for (const line of table(
          ['ID', 'CLIENT', 'CREATED', 'LAST USED', 'EXPIRES', 'IP', 'USER AGENT'],
          rows,
        ))
          out(line);
        return 0;
      });
    },
  },
  {
    name: 'sessions revoke',
    usage: 'sessions revoke <id> | --user <email> [--json]',
    summary: 'revoke one session, or every session of a user (reason admin)',
    help: `Goes through the same domain code as HTTP revocations: audited (session_revoked, reason
admin), and with REDIS_URL published to every running server, whose access-token checks then
refuse the session at once. Exits 1 if the announcement could not be made.`,
    options: { ...JSON_OPTION, user: { type: 'string' } },
    positionals: [0, 1],
    async run({ values, positionals }, command) {
      const email = text(values, 'user');
      const id = positionals[0];
      if (id !== undefined && email !== undefined)
        throw new UsageError('give a session id or --user <email>, not both', command);
      if (id === undefined && email === undefined)
        throw new UsageError('give a session id or --user <email>', command);
      return withOperator(cliConfig(), async (op) => {
        if (email !== undefined) {
          const account = await accountFor(op.accounts, email);
          const ids = await op.sessions.revokeUser(account.id, 'admin');
          return reportRevocation(
            op,
            values.json,
            { user: { id: account.id, email: account.email }, revoked: ids },
            `revoked ${ids.length} session${ids.length === 1 ? '' : 's'} of ${account.email}`,
          );
        }
        const session = await op.backend.sessions.getSession(id!);
        if (!session) throw new Error(`no session ${shownValue(id!)}`);
        const revoked = await op.sessions.revoke(session.id, 'admin');
        const at = session.revokedAt ?? systemClock.now();
        return reportRevocation(
          op,
          values.json,
          { id: session.id, revoked, already_revoked: !revoked },
          revoked
            ? `revoked session ${session.id} of user ${session.userId}`
            : `session ${session.id} was already revoked (${session.revokeReason ?? 'ended'}, ${isoTime(at)})`,
        );
      });
    },
  },
];
