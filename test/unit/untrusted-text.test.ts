import { describe, expect, it } from 'vitest';
import { plainLine, plainText, serverText, withoutCredentials } from '../../src/core/untrusted-text.js';

describe('untrusted text (DESIGN.md §7)', () => {
  it.each([
    ['CSI clear screen and cursor home', 'a\u001b[2J\u001b[Hb', 'ab'],
    ['SGR colour', '\u001b[31mred\u001b[0m', 'red'],
    ['OSC window title ended by BEL', 'x\u001b]0;pwned\u0007y', 'xy'],
    ['OSC ended by ST', 'x\u001b]8;;http://evil\u001b\\y', 'xy'],
    ['8-bit CSI', 'x\u009b31my', 'xy'],
    ['ESC c (terminal reset) and a trailing ESC', 'x\u001bcy\u001b', 'xy'],
    ['bidi override and zero-width', 'ok\u202egnp.exe\u200b', 'ok gnp.exe '],
    ['line breaks and tabs become spaces', 'a\r\nb\tc', 'a  b c'],
  ])('%s', (_, input, expected) => {
    expect(plainText(input)).toBe(expected);
  });

  it('plainLine collapses white space', () => {
    expect(plainLine('  a \n\n b\u0007 ')).toBe('a b');
  });

  it('cuts the token in use, JWT shapes and Bearer values', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJYIn0.c2lnbmF0dXJl';
    expect(withoutCredentials(`bad ${jwt} here`)).toBe('bad <redacted> here');
    expect(withoutCredentials('Authorization: Bearer abc.def')).toBe('Authorization: Bearer <redacted>');
    expect(withoutCredentials('pat is ver-secret-pat-value!', ['ver-secret-pat-value'])).toBe('pat is <redacted>!');
    // A short "secret" would eat ordinary words.
    expect(withoutCredentials('the user', ['user'])).toBe('the user');
  });

  it('an escape sequence or a line break inside a token does not hide it', () => {
    const token = 'pat-0123456789abcdef';
    expect(serverText(`x pat-0123\u001b[0m456789abcdef y`, [token])).toBe('x <redacted> y');
    expect(serverText(`x ${token}\n y`, [token])).toBe('x <redacted> y');
    expect(serverText('line1\nline2', ['line1\nline2'])).toBe('<redacted>');
  });
});
