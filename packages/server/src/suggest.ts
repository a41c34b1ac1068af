/**
 * The candidate nearest to a misspelt name (edit distance at most 3, and less than half the
 * name), for "did you mean …?" hints in configuration and CLI errors; null when none is near.
 */
export function closest(name: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Math.min(4, Math.ceil(name.length / 2));
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean x?)`, or nothing. */
export function suggestion(name: string, candidates: Iterable<string>): string {
  const near = closest(name, candidates);
  return near === null ? '' : ` (did you mean ${near}?)`;
}

/** Edits (insert, delete, replace, or swap two neighbours: PROT → PORT is one) between a and b. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        current[j] = Math.min(current[j]!, before[j - 2]! + 1);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}
