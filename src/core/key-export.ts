/**
 * A private key in the form another tool expects (DESIGN.md §3 v3 "First-time set-up, connections and
 * export"): PKCS#8 PEM (what the Snowflake connectors read), the same PEM on one line with `\n`
 * escapes (JSON, .env files, some CI variables), the bare base64 body, or a shell assignment of
 * SNOWFLAKE_PRIVATE_KEY_RAW. Pure: a PKCS#8 PEM in, text out.
 */
export type ExportFormat = 'pem' | 'pem-escaped' | 'body' | 'env';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['pem', 'pem-escaped', 'body', 'env'];

/** `pem` is a PKCS#8 PEM (`PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`), with a final newline. */
export function exportKey(pem: string, format: ExportFormat): string {
  const text = pem.replace(/\r\n/g, '\n').trimEnd() + '\n';
  switch (format) {
    case 'pem':
      return text;
    case 'pem-escaped':
      return text.trimEnd().split('\n').join('\\n') + '\\n\n';
    case 'body':
      return bodyOf(text) + '\n';
    case 'env':
      // Single quotes keep the newlines and every other character as they are; a PEM holds no quote.
      return `SNOWFLAKE_PRIVATE_KEY_RAW='${text.trimEnd()}'\n`;
  }
}

/** The base64 between the PEM delimiters, on one line. */
export function bodyOf(pem: string): string {
  return pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');
}

/**
 * What is wrong with a private key held in a variable (SNOWFLAKE_PRIVATE_KEY_RAW, private_key_raw),
 * for the tools that are stricter than sfauth: Snowflake's key-pair guide
 * (https://docs.snowflake.com/en/user-guide/key-pair-auth) makes PKCS#8 PEM keys, and the Snowflake
 * CLI reads SNOWFLAKE_PRIVATE_KEY_RAW as PEM. The most common failure reported for keys in secrets is
 * one of these forms.
 * Undefined when it is that PEM.
 */
export function rawKeyProblem(text: string): { form: string; fix: ExportFormat } | undefined {
  const t = text.trim();
  if (/^-----BEGIN [A-Z ]+-----\\n/.test(t)) return { form: 'a one-line PEM with \\n escapes', fix: 'pem' };
  if (/^-----BEGIN (RSA|EC) PRIVATE KEY-----/.test(t)) return { form: `a key in the traditional ${t.includes('BEGIN RSA') ? 'PKCS#1 (RSA)' : 'SEC1 (EC)'} format, not PKCS#8`, fix: 'pem' };
  if (/^-----BEGIN [A-Z ]+-----/.test(t) && !t.includes('\n')) return { form: 'a PEM whose line breaks were lost', fix: 'pem' };
  if (/^[A-Za-z0-9+/=\s]+$/.test(t) && !t.startsWith('-----')) return { form: 'the bare base64 body, without the PEM lines', fix: 'pem' };
  return undefined;
}
