/** Reading secrets: from a pipe, or from the terminal without echo. Nothing is ever printed back. */

/** All of stdin, less one trailing newline (what `echo` or a here-string adds). */
export async function readSecretFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

// Typed-ahead input after a line (say, both passwords pasted at once) is kept for the next prompt.
let pending = '';

/** Asks on stderr and reads one line from the terminal with echo off. Ctrl-C aborts. */
export function readPassword(prompt: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(prompt);
    let value = '';
    let done = false;
    stdin.setRawMode(true);
    const finish = (error?: Error): void => {
      done = true;
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', consume);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    function consume(chunk: string): void {
      const chars = [...chunk];
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i]!;
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          const rest = chars.slice(i + 1).join('');
          pending = ch === '\r' && rest.startsWith('\n') ? rest.slice(1) : rest;
          finish();
          return;
        }
        if (ch === '\u0003') {
          finish(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    }
    const early = pending;
    pending = '';
    if (early) consume(early);
    if (done) return;
    stdin.setEncoding('utf8');
    stdin.on('data', consume);
    stdin.resume();
  });
}
