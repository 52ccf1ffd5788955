/**
 * `sfauth inspect <token|->`: decode a JWT, show it readably, and check it against Snowflake's rules
 * (DESIGN.md §3 "Key-pair JWT"); with `--public-key` also verify the signature and the fingerprint in
 * `iss`. The report goes to stdout; any error-level problem or a bad signature exits 1, a string that
 * is not a JWT exits 2.
 */
import type { CommandContext } from '../context.js';
import { CheckFailedError, UsageError } from '../errors.js';
import {
  checkJwt,
  checkJwtKey,
  decodeJwt,
  humanSpan,
  isoTime,
  type DecodedJwt,
  type JwtCheck,
  type JwtProblem,
  type SignatureStatus,
} from '../core/jwt.js';
import { keySourceFromArg, loadKey, passphraseFromInputs } from '../io/load-key.js';
import type { Output } from '../ui/output.js';

export interface InspectOptions {
  token?: string;
  publicKey?: string;
  passphraseFile?: string;
  json?: boolean;
}

export async function run(options: InspectOptions, ctx: CommandContext): Promise<number> {
  const arg = options.token;
  if (arg === undefined) {
    throw new UsageError('ERR_USAGE', 'missing token', { hint: "pass the JWT, or '-' to read it from stdin" });
  }
  if (arg === '-' && options.publicKey === '-') {
    throw new UsageError('ERR_USAGE', "stdin ('-') can be read only once", { hint: 'pass the token or the key as a file' });
  }
  const text = arg === '-' ? (await ctx.readStdin()).toString('utf8') : arg;
  const decoded = decodeJwt(text);
  const nowSeconds = ctx.now() / 1000;

  // Load the key before printing anything, so an unreadable key is a clean exit 2.
  let keyChecks: JwtCheck[] = [];
  let signature: SignatureStatus = 'unchecked';
  let keyLabel: string | undefined;
  if (options.publicKey !== undefined) {
    keyLabel = options.publicKey === '-' ? 'stdin' : options.publicKey;
    const key = await loadKey(keySourceFromArg(options.publicKey, ctx.cwd), {
      passphrase: await passphraseFromInputs(options.passphraseFile, ctx.env, ctx.cwd),
      prompter: ctx.prompter,
      readStdin: ctx.readStdin,
      label: keyLabel,
    });
    const result = checkJwtKey(decoded, key.publicKey);
    keyChecks = result.checks;
    signature = result.signature;
  }

  const checks = [...checkJwt(decoded, nowSeconds), ...keyChecks];
  const problems = checks.flatMap((c) => c.problems);
  const errors = problems.filter((p) => p.severity === 'error');

  if (ctx.out.json) {
    ctx.out.document({ header: decoded.header, payload: decoded.payload, problems, signature });
  } else {
    report(ctx.out, decoded, checks, signature, keyLabel, nowSeconds);
  }

  if (errors.length > 0 || signature === 'invalid') {
    const first = errors[0];
    throw new CheckFailedError(
      'ERR_TOKEN_INVALID',
      errors.length === 1 && first ? `Snowflake would refuse this token: ${first.message}` : `Snowflake would refuse this token: ${errors.length} problems`,
      {
        hint: ctx.out.json ? 'see "problems" in the document on stdout' : errors.length > 1 ? 'see the ✗ lines above' : 'the report above shows every check',
        data: { problems: errors.map((p) => p.code) },
      },
    );
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The human report.

/** Token contents are untrusted: never let them drive the terminal (escapes, bidi overrides). */
function safe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
  });
}

function showValue(value: unknown): string {
  if (typeof value === 'string') return safe(value);
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  return safe(text ?? String(value));
}

const TIME_CLAIMS = new Set(['iat', 'exp', 'nbf', 'auth_time']);

function relative(name: string, seconds: number, now: number): string {
  const delta = seconds - now;
  const span = humanSpan(delta);
  if (name === 'exp') return delta > 0 ? `expires in ${span}` : `expired ${span} ago`;
  if (Math.abs(delta) < 1) return 'now';
  return delta > 0 ? `in ${span}` : `${span} ago`;
}

function showTime(out: Output, name: string, value: unknown, now: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return showValue(value);
  const ms = value >= 1e11;
  const seconds = ms ? value / 1000 : value;
  const when = `${isoTime(seconds)}, ${relative(name, seconds, now)}${ms ? ', read as milliseconds' : ''}`;
  return `${value}  ${out.dataStyle.dim(`(${when})`)}`;
}

function section(out: Output, title: string, entries: Record<string, unknown>, now: number): void {
  out.line(out.dataStyle.bold(title));
  const keys = Object.keys(entries);
  if (keys.length === 0) {
    out.line('  (empty)');
    return;
  }
  const width = Math.min(Math.max(...keys.map((k) => safe(k).length)), 12);
  for (const key of keys) {
    const value = entries[key];
    const shown = TIME_CLAIMS.has(key) ? showTime(out, key, value, now) : showValue(value);
    out.line(`  ${safe(key).padEnd(width)}  ${shown}`);
  }
}

function problemLine(out: Output, p: JwtProblem): string {
  if (p.severity === 'error') return `  ${out.dataStyle.red('✗')} ${safe(p.message)}`;
  if (p.severity === 'warning') return `  ${out.dataStyle.yellow('!')} ${safe(p.message)}`;
  return `  ${out.dataStyle.cyan('i')} ${safe(p.message)}`;
}

function report(out: Output, decoded: DecodedJwt, checks: JwtCheck[], signature: SignatureStatus, keyLabel: string | undefined, now: number): void {
  section(out, 'Header', decoded.header, now);
  section(out, 'Payload', decoded.payload, now);
  out.line(out.dataStyle.bold('Checks'));
  for (const check of checks) {
    if (check.problems.length === 0) out.line(`  ${out.dataStyle.green('✓')} ${safe(check.label)}`);
    else for (const p of check.problems) out.line(problemLine(out, p));
  }
  if (signature === 'unchecked') {
    out.line(`  ${out.dataStyle.dim('-')} signature not checked (pass --public-key PATH to verify it and the fingerprint)`);
  }
  const errors = checks.flatMap((c) => c.problems).filter((p) => p.severity === 'error').length;
  const warnings = checks.flatMap((c) => c.problems).filter((p) => p.severity === 'warning').length;
  out.line();
  if (errors === 0 && signature !== 'invalid') {
    const what = signature === 'valid' ? `signature valid (${safe(keyLabel ?? 'key')})` : 'signature not checked';
    out.line(`${out.dataStyle.green('OK')}: no problems found${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}; ${what}`);
  } else {
    out.line(`${out.dataStyle.red('REFUSED')}: ${errors} problem${errors === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}`);
  }
}
