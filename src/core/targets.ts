/**
 * `rotate --targets FILE`: one target user per line; `#` starts a comment (a whole line, or the rest
 * of one after a space); blank lines are skipped; double quotes around a name allow spaces in it (as
 * `--target-user "odd user"` does). Names are compared as Snowflake resolves them (a plain name is
 * upper-cased), so `svc_a` and `SVC_A` are the same user and listing one twice is refused, as are
 * names with control characters and (unless allowed: `rotate --targets` takes an audit's empty list
 * as "nothing due") an empty list. Pure: text in, names out.
 */
import { UsageError } from '../errors.js';
import { normalizeUserName } from './rotation-plan.js';

export function parseTargets(text: string, source: string, options: { allowEmpty?: boolean } = {}): string[] {
  const users: string[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    const where = `${source} line ${i + 1}`;
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(line) || line.length > 255 || /\s/.test(line.replace(/^"(.*)"$/, ''))) {
      throw new UsageError('ERR_TARGETS_INVALID', `${where} is not a user name`, {
        hint: 'one user name per line (double-quote a name with spaces), # for comments',
        data: { line: i + 1 },
      });
    }
    // A quoted line is a quoted identifier: `"svc x"` is the user svc x, and `"svc_lower"` stays quoted
    // (unquoted it would be read as SVC_LOWER, another user).
    const quoted = line.startsWith('"') && line.endsWith('"') && line.length > 2;
    // Inside quotes `""` is one `"`, as in any quoted identifier (what `sfauth audit --targets-out` writes).
    const inner = quoted ? line.slice(1, -1).replace(/""/g, '"') : line;
    const name = quoted && /^[A-Za-z_][A-Za-z0-9_$]*$/.test(inner) && inner !== inner.toUpperCase() ? line : inner;
    const key = normalizeUserName(name);
    const first = seen.get(key);
    if (first !== undefined) {
      throw new UsageError('ERR_TARGETS_INVALID', `${where} repeats ${name} (first on line ${first})`, {
        hint: 'list each user once: two rotations of one user in one run would race for the same keys',
        data: { line: i + 1 },
      });
    }
    seen.set(key, i + 1);
    users.push(name);
  }
  if (users.length === 0 && !options.allowEmpty) throw new UsageError('ERR_TARGETS_INVALID', `${source} lists no users`, { hint: 'one target user per line; # starts a comment' });
  return users;
}
