/**
 * A `SHOW USERS LIKE` pattern applied locally (for `--source account-usage`, which reads every row):
 * case-insensitive, `%` any run, `_` any one character, `\` escapes the next one, as Snowflake's LIKE
 * in SHOW commands (https://docs.snowflake.com/en/sql-reference/sql/show-users).
 */
export function likeMatcher(pattern: string): (name: string) => boolean {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escape(pattern[++i]!);
    else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += escape(c);
  }
  const compiled = new RegExp(`^${re}$`, 'i');
  return (name) => compiled.test(name);
}

const escape = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
