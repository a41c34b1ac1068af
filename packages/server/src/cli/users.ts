import { BatonError, checkPasswordPolicy } from '@baton/core';
import { type Command, JSON_OPTION, UsageError } from './args.js';
import { cliConfig, withOperator } from './context.js';
import { isoTime, out, printJson } from './output.js';
import { readPassword, readSecretFromStdin } from './prompt.js';
import { accountFor, reportRevocation } from './sessions.js';

/** The public message of a domain refusal (a policy rule, a taken address), never a secret. */
function domainMessage(error: unknown): never {
  if (error instanceof BatonError && (error.code === 'invalid_request' || error.code === 'email_taken'))
    throw new Error(error.description);
  throw error;
}

export const usersCommands: Command[] = [
  {
    name: 'users create',
    usage: 'users create <email> [--password-stdin] [--json]',
    summary: 'create a user; the password is prompted for, or read from stdin',
    help: `The password is never taken from the command line. Without --password-stdin it is asked
for twice on the terminal, without echo. With --password-stdin, all of stdin is the password
(one trailing newline is dropped):  printf '%s' "$PW" | baton users create ann@example.com --password-stdin
The password policy is the server's (at least 8, at most 256 characters).`,
    options: { ...JSON_OPTION, 'password-stdin': { type: 'boolean' } },
    positionals: [1, 1],
    async run({ values, positionals }, command) {
      const email = positionals[0]!;
      let password: string;
      if (values['password-stdin']) password = await readSecretFromStdin();
      else if (process.stdin.isTTY) {
        password = await readPassword('Password: ');
        checkPolicy(password);
        if ((await readPassword('Repeat password: ')) !== password) throw new Error('the passwords differ');
      } else throw new UsageError('no terminal to ask for the password on: use --password-stdin', command);
      checkPolicy(password);
      return withOperator(cliConfig(), async ({ accounts }) => {
        const user = await accounts.register(email, password).catch(domainMessage);
        if (values.json) printJson({ id: user.id, email: user.email, created_at: isoTime(user.createdAt) });
        else out(`created user ${user.email} (${user.id})`);
        return 0;
      });
    },
  },
  {
    name: 'users disable',
    usage: 'users disable <email> [--json]',
    summary: 'stop a user signing in and revoke every session of theirs',
    help: `Sign-in is refused from now on, refresh tokens stop working, and access tokens are refused
by /auth/me (and by every server at once with REDIS_URL). Audited: user_disabled, then
session_revoked (reason user_disabled) per session. Running it again revokes any session left.`,
    options: JSON_OPTION,
    positionals: [1, 1],
    async run({ values, positionals }) {
      return withOperator(cliConfig(), async (op) => {
        const account = await accountFor(op.accounts, positionals[0]!);
        const disabled = await op.accounts.disable(account.id);
        const revoked = await op.sessions.revokeUser(account.id, 'user_disabled');
        return reportRevocation(
          op,
          values.json,
          { id: account.id, email: account.email, already_disabled: !disabled, revoked_sessions: revoked },
          `${disabled ? 'disabled' : 'already disabled:'} ${account.email} (${account.id}); revoked ${revoked.length} session${revoked.length === 1 ? '' : 's'}`,
        );
      });
    },
  },
  {
    name: 'users enable',
    usage: 'users enable <email> [--json]',
    summary: 'let a disabled user sign in again',
    help: `Undoes users disable for sign-in only: the sessions it revoked stay revoked, so the user
signs in afresh. Audited: user_enabled. Running it on an enabled user changes nothing.`,
    options: JSON_OPTION,
    positionals: [1, 1],
    async run({ values, positionals }) {
      return withOperator(cliConfig(), async (op) => {
        const account = await accountFor(op.accounts, positionals[0]!);
        const enabled = await op.accounts.enable(account.id);
        if (values.json) printJson({ id: account.id, email: account.email, already_enabled: !enabled });
        else out(`${enabled ? 'enabled' : 'already enabled:'} ${account.email} (${account.id})`);
        return 0;
      });
    },
  },
  {
    name: 'users delete',
    usage: 'users delete <email> --yes [--json]',
    summary: 'delete a user: sessions revoked, then the account removed',
    help: `Every session is revoked first (audited, announced like users disable), then the account is
deleted and the address is free again. The revoked session rows lose their IP address and user
agent and stay, anonymous, until pruning removes them one access-token lifetime later: servers
catching up on revocations read them. Audited: user_deleted. Asks for --yes.`,
    options: { ...JSON_OPTION, yes: { type: 'boolean' } },
    positionals: [1, 1],
    async run({ values, positionals }, command) {
      if (!values.yes) throw new UsageError('deleting a user cannot be undone: add --yes', command);
      return withOperator(cliConfig(), async (op) => {
        const account = await accountFor(op.accounts, positionals[0]!);
        const revoked = await op.sessions.revokeUser(account.id, 'user_deleted');
        await op.accounts.remove(account.id);
        return reportRevocation(
          op,
          values.json,
          { id: account.id, email: account.email, deleted: true, revoked_sessions: revoked },
          `deleted ${account.email} (${account.id}); revoked ${revoked.length} session${revoked.length === 1 ? '' : 's'}`,
        );
      });
    },
  },
];

function checkPolicy(password: string): void {
  try {
    checkPasswordPolicy(password);
  } catch (error) {
    domainMessage(error);
  }
}
