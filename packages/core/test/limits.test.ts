import { createLoginThrottle } from '../src/login-throttle.js';
import { createMemoryRateLimiter } from '../src/rate-limit.js';
import { runLimitsContract } from '../src/testing/limits-contract.js';

runLimitsContract('memory', async (clock) => ({
  limiter: createMemoryRateLimiter({ clock }),
  throttle: (rules) => createLoginThrottle({ clock, ...rules }),
}));
