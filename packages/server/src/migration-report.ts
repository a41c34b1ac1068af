/** What a migration run did: the schema version before and after, and each step applied. */
export interface MigrationReport {
  from: number;
  to: number;
  applied: Array<{ version: number; summary: string }>;
}

/** `CREATE TABLE a … CREATE INDEX b …` → "create table a; create index b": for operators. */
export function summarizeMigration(sql: string): string {
  const groups = new Map<string, string[]>();
  const statement =
    /\b(CREATE|ALTER|DROP)\s+(?:UNIQUE\s+)?(TABLE|INDEX)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?"?(\w+)/gi;
  for (const [, verb, kind, name] of sql.matchAll(statement)) {
    const key = `${verb!.toLowerCase()} ${kind!.toLowerCase()}`;
    groups.set(key, [...(groups.get(key) ?? []), name!]);
  }
  return groups.size === 0
    ? 'schema change'
    : [...groups].map(([what, names]) => `${what} ${names.join(', ')}`).join('; ');
}
