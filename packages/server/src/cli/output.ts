/** How the CLI prints: data to stdout, progress and messages to stderr. */

// Control and format characters a terminal would act on: escapes (colour, cursor moves, clear
// screen, conceal), carriage returns, bidi overrides, line separators. Lines and tabs are ours.
const ACTIVE_TEXT = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;

/**
 * Text with what a terminal would act on shown as `\u{1b}` instead. What the CLI prints may
 * come from anyone (a token's claims, a user agent, an e-mail address): it must not be able to
 * redraw the screen or fake a line such as `VALID:`.
 */
export function visible(text: string): string {
  return text.replace(ACTIVE_TEXT, (ch) => (ch === '\n' || ch === '\t' ? ch : escaped(ch)));
}

/** `visible`, and a line break or tab shown escaped too: for a value that must stay on its line. */
export function oneLine(text: string): string {
  return text.replace(ACTIVE_TEXT, escaped);
}

const escaped = (ch: string): string => `\\u{${ch.codePointAt(0)!.toString(16)}}`;

export const out = (line = ''): void => {
  process.stdout.write(`${visible(line)}\n`);
};
export const err = (line: string): void => {
  process.stderr.write(`${visible(line)}\n`);
};
/** JSON escapes what it must; scripts get the text as it is. */
export const printJson = (value: unknown, indent = 2): void => {
  process.stdout.write(`${JSON.stringify(value, null, indent)}\n`);
};

/** `2026-01-01T10:00:00Z`: ISO 8601 without milliseconds. */
export function isoTime(ms: number): string {
  const date = new Date(Math.floor(ms / 1000) * 1000);
  // A forged claim may lie beyond what a Date holds (exp: 1e300): say so rather than fail.
  if (Number.isNaN(date.getTime())) return `(out of range: ${ms / 1000} s)`;
  return date.toISOString().replace('.000Z', 'Z');
}

/** `in 14 min`, `3 min ago`, `in 5 s`, `2 h ago`, `3 d ago`: a moment relative to `now`. */
export function relativeTime(at: number, now: number): string {
  const diff = at - now;
  const s = Math.floor(Math.abs(diff) / 1000);
  if (!Number.isFinite(s)) return 'never';
  if (s === 0) return 'just now';
  const amount =
    s < 60
      ? `${s} s`
      : s < 3600
        ? `${Math.floor(s / 60)} min`
        : s < 48 * 3600
          ? `${Math.floor(s / 3600)} h${s < 10 * 3600 && Math.floor(s / 60) % 60 ? ` ${Math.floor(s / 60) % 60} min` : ''}`
          : s < 100 * 365 * 86400
            ? `${Math.floor(s / 86400)} d`
            : 'over a century';
  return diff > 0 ? `in ${amount}` : `${amount} ago`;
}

/** `2026-01-01T10:00:00Z (3 min ago)`. */
export const when = (at: number, now: number): string => `${isoTime(at)} (${relativeTime(at, now)})`;

/** `15m`, `14d`, `90s`: a duration in the unit the configuration would use. */
export function duration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Left-aligned columns; the last column is not padded. */
export function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows.map((r) => r.map(oneLine))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

export interface Progress {
  /** Known total: a bar. Unknown (total undefined): a running count. */
  update(done: number, total?: number, label?: string): void;
  done(): void;
}

/**
 * A progress line on stderr, redrawn in place; nothing at all when stderr is not a
 * terminal or the output is JSON, so logs and pipes stay clean.
 */
export function progress(title: string, enabled: boolean): Progress {
  const tty = enabled && process.stderr.isTTY === true;
  let drawn = false;
  let last = 0;
  return {
    update(done, total, label = '') {
      if (!tty) return;
      const now = Date.now();
      if (drawn && now - last < 50 && done !== total) return; // at most 20 redraws a second
      last = now;
      const width = 24;
      const line =
        total === undefined || total === 0
          ? `${title} ${done.toLocaleString('en')} ${label}`
          : `${title} [${'#'.repeat(Math.round((done / total) * width)).padEnd(width, '-')}] ${done}/${total} ${label}`;
      const columns = process.stderr.columns || 80; // 0 on some terminals: not a width
      process.stderr.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
      drawn = true;
    },
    done() {
      if (tty && drawn) process.stderr.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
