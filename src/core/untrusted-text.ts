/**
 * Text sfauth did not write (a server's messages, codes and cell values; header values) is untrusted
 * (DESIGN.md §7 "The server's words"): before it is printed, escape sequences and control characters
 * go, so it cannot clear the screen, move the cursor or fake a line of sfauth's own; and anything shaped
 * like a credential is cut out, so a server that echoes the bearer token does not get it printed.
 */

/** ESC-introduced sequences: CSI (`ESC [ … final`), OSC/DCS/PM/APC strings (to BEL or ST), and 2-byte escapes. */
// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /\u001b\[[0-?]*[ -/]*[@-~]?|\u001b[\]PX^_][^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)?|\u001b[ -~]?|\u009b[0-?]*[ -/]*[@-~]?/g;
/** C0 and C1 controls, DEL, and the invisible marks that reorder or hide text (bidi overrides, zero-width). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** Untrusted text made safe to print on one line: escape sequences removed, controls become spaces. */
export function plainText(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, ' ');
}

/** Untrusted text as a single tidy line: `plainText`, runs of white space collapsed, trimmed. */
export function plainLine(text: string): string {
  return plainText(text).replace(/\s+/g, ' ').trim();
}

/** A JWT (three base64url parts, the first a JSON header). */
const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
/** `Bearer <anything>` as an Authorization header quotes it. */
const BEARER = /\b(Bearer)\s+[^\s"',;]+/gi;

/**
 * Cuts credentials out of a message: each of `secrets` (the bearer token in use: a JWT, an OAuth token
 * or a programmatic access token) wherever it appears, anything JWT-shaped, and `Bearer <value>`.
 */
export function withoutCredentials(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    // A short "secret" would cut ordinary words out of the message; real tokens are long.
    if (secret.length >= 8) out = out.split(secret).join('<redacted>');
  }
  return out.replace(JWT_SHAPE, '<redacted>').replace(BEARER, '$1 <redacted>');
}

/** Both: what every server string goes through before a message is made of it. */
export function serverText(text: string, secrets: readonly string[] = []): string {
  // Scrubbed before and after the controls go: a token may hold a line break (before), and an escape
  // sequence inside a token must not hide it from the scrubber (after).
  return plainLine(withoutCredentials(plainText(withoutCredentials(text, secrets)), secrets));
}
