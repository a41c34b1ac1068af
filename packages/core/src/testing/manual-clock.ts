import type { Clock } from '../types.js';

/** A clock that moves only when told to: every time rule tests without sleeping. */
export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(at: number): void;
}

export function createManualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let at = start;
  return {
    now: () => at,
    advance: (ms) => {
      at += ms;
    },
    set: (value) => {
      at = value;
    },
  };
}
