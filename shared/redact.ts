/** Removes what looks like a secret from text that will be stored or shown. */

/** OpenAI echoes part of a rejected key ("Incorrect API key provided: sk-abc***xyz"): never store it. */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b(sk|sess|rk)-[A-Za-z0-9_*.-]{3,}/g, '$1-[redacted]')
    .replace(/Bearer\s+\S+/gi, 'Bearer [redacted]');
}
