import { BatonError } from '@baton/core';

/**
 * Parses an application/x-www-form-urlencoded body. RFC 6749 §3.2: parameters must not be
 * sent more than once, so a repeated name is `invalid_request`, as is an empty name.
 */
export function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    if (name === '') {
      throw new BatonError('invalid_request', 'empty parameter name', {
        description: 'A parameter has no name.',
      });
    }
    if (name in out) {
      throw new BatonError('invalid_request', `parameter ${name.slice(0, 40)} repeated`, {
        description: 'A parameter was sent more than once.',
      });
    }
    out[name] = value;
  }
  return out;
}
