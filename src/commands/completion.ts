/**
 * `sfauth completion bash|zsh|fish`: a completion script for the shell, on stdout. Commands, their
 * flags, the values of flags with a fixed set (`--type rsa|ec`, `--format`, …), files for flags that
 * take a path, and connection names for `-c` / `--connection`, read at completion time from the same
 * config the commands read (`sfauth completion --list-connections`).
 *
 *   bash: source <(sfauth completion bash)            (or save it in ~/.local/share/bash-completion/completions/sfauth)
 *   zsh:  source <(sfauth completion zsh)             (native: _arguments, with each flag's description;
 *                                                       or save it as _sfauth in a folder on $fpath)
 *   fish: sfauth completion fish > ~/.config/fish/completions/sfauth.fish
 */
import type { CommandContext } from '../context.js';
import { UsageError } from '../errors.js';
import { homeDirOf } from '../snowflake/session.js';

/** A command as the completion sees it (built from the commander wiring in cli.ts). */
export interface CompletionCommand {
  name: string;
  summary: string;
  options: { flags: string[]; description: string; takesValue: boolean; path: boolean }[];
}

export interface CompletionOptions {
  shell?: string;
  listConnections?: boolean;
  commands: CompletionCommand[];
}

/** Fixed value sets, by long flag. */
const VALUES: Record<string, string[]> = {
  '--type': ['rsa', 'ec'],
  '--bits': ['2048', '3072', '4096'],
  '--curve': ['P-256', 'P-384', 'P-521'],
  '--slot': ['1', '2'],
  '--format': ['token', 'env', 'json'],
  '--source': ['live', 'account-usage'],
  '--fail-on': ['high', 'medium', 'low', 'info', 'none'],
  '--token-type': ['oauth', 'pat'],
  '--alg': ['RS256', 'RS384', 'RS512'],
};

/** Where a command gives a flag other values than the table above. */
const COMMAND_VALUES: Record<string, Record<string, string[]>> = {
  audit: { '--type': ['service', 'person', 'all'], '--format': ['table', 'json', 'csv', 'markdown'] },
  export: { '--format': ['pem', 'pem-escaped', 'body', 'env'] },
};
const valuesOf = (command: string, flag: string): string[] | undefined => COMMAND_VALUES[command]?.[flag] ?? VALUES[flag];

const CONNECTION_FLAGS = ['-c', '--connection', '--admin-connection'];
/** Words for a command's positional argument (else files). */
const POSITIONAL: Record<string, string[]> = { completion: ['bash', 'zsh', 'fish'] };

export async function run(options: CompletionOptions, ctx: CommandContext): Promise<number> {
  if (options.listConnections) {
    // Best effort and quiet: a broken config must not spill errors into the user's prompt.
    try {
      const { loadSnowflakeConfig, snowflakeHome } = await import('../config/files.js');
      const config = await loadSnowflakeConfig(snowflakeHome(ctx.env, { homeDir: homeDirOf(ctx), cwd: ctx.cwd }), ctx.env);
      for (const name of config.connections.keys()) if (/^[\w.@-]+$/.test(name)) ctx.out.line(name);
    } catch {
      // no names
    }
    return 0;
  }
  const shell = options.shell;
  if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish') {
    throw new UsageError('ERR_USAGE', shell ? `no completion for the shell '${shell}': bash, zsh or fish` : 'missing shell: sfauth completion bash|zsh|fish', {
      hint: 'e.g. source <(sfauth completion bash)',
    });
  }
  ctx.out.data(shell === 'fish' ? fishScript(options.commands) : shell === 'zsh' ? zshScript(options.commands) : bashScript(options.commands));
  return 0;
}

const quoteWords = (words: string[]) => words.join(' ');

function bashScript(commands: CompletionCommand[]): string {
  const pathFlags = [...new Set(commands.flatMap((c) => c.options.filter((o) => o.path).flatMap((o) => o.flags)))];
  const valueCases = Object.entries(VALUES)
    .map(([flag, values]) => `    ${flag}) COMPREPLY=($(compgen -W "${quoteWords(values)}" -- "$cur")); return ;;`)
    .join('\n');
  const commandValueCases = Object.entries(COMMAND_VALUES)
    .flatMap(([command, flags]) => Object.entries(flags).map(([flag, values]) => `    "${command} ${flag}") COMPREPLY=($(compgen -W "${quoteWords(values)}" -- "$cur")); return ;;`))
    .join('\n');
  const commandCases = commands
    .map((c) => {
      const words = POSITIONAL[c.name];
      return `    ${c.name}) opts="${quoteWords(c.options.flatMap((o) => o.flags.filter((f) => f.startsWith('--'))))} --help"${words ? `; words="${quoteWords(words)}"` : ''} ;;`;
    })
    .join('\n');
  return `# sfauth bash completion: source <(sfauth completion bash)
_sfauth() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z "$cmd" ]]; then
    COMPREPLY=($(compgen -W "${quoteWords(commands.map((c) => c.name))} --help --version --no-color" -- "$cur"))
    return
  fi
  case "$cmd $prev" in
${commandValueCases}
  esac
  case "$prev" in
    ${CONNECTION_FLAGS.join('|')}) COMPREPLY=($(compgen -W "$(sfauth completion --list-connections 2>/dev/null)" -- "$cur")); return ;;
${valueCases}
    ${pathFlags.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  local opts="" words=""
  case "$cmd" in
${commandCases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n "$words" ]]; then COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o filenames -F _sfauth sfauth
`;
}

/**
 * zsh's own completion (`_arguments`), so each flag shows its description and each value its kind.
 * Descriptions are escaped for an `_arguments` spec (`[`, `]`, `:` and `\\`) inside single quotes.
 */
function zshScript(commands: CompletionCommand[]): string {
  const q = (text: string) => `'${text.replace(/'/g, "'\\''")}'`;
  const desc = (text: string) => text.replace(/\\/g, '\\\\').replace(/([[\]:])/g, '\\$1');
  const action = (o: CompletionCommand['options'][number], long: string, command: string) => {
    if (CONNECTION_FLAGS.includes(long)) return ':connection:_sfauth_connections';
    const values = valuesOf(command, long);
    if (values) return `:${long.slice(2)}:(${values.join(' ')})`;
    if (o.path) return ':file:_files';
    if (o.takesValue) return `:${long.slice(2)}: `;
    return '';
  };
  const specs = (c: CompletionCommand) => {
    const lines: string[] = [];
    for (const o of c.options) {
      const long = o.flags.find((f) => f.startsWith('--'))!;
      for (const flag of o.flags) lines.push(q(`${flag}[${desc(o.description)}]${action(o, long, c.name)}`));
    }
    lines.push(q('(- *)--help[show help]'));
    const positional = POSITIONAL[c.name];
    if (positional) lines.push(q(`1:${c.name === 'completion' ? 'shell' : 'value'}:(${positional.join(' ')})`));
    else if (c.name === 'fingerprint') lines.push(q('*:key file:_files'));
    else if (c.name === 'inspect') lines.push(q('1:token or -:_files'));
    return lines;
  };
  const commandList = commands.map((c) => `    ${q(`${c.name}:${c.summary.replace(/:/g, '\\:')}`)}`).join('\n');
  const cases = commands.map((c) => `    ${c.name})\n      _arguments -s \\\n        ${specs(c).join(' \\\n        ')} ;;`).join('\n');
  return `#compdef sfauth
# sfauth zsh completion: source <(sfauth completion zsh), or save it as _sfauth in a folder on $fpath

_sfauth_connections() {
  local -a names
  names=(\${(f)"$(sfauth completion --list-connections 2>/dev/null)"})
  _describe -t connections 'connection' names
}

_sfauth() {
  local curcontext="$curcontext" state line
  local -a commands
  commands=(
${commandList}
  )
  _arguments -C \\
    '(- *)'{-h,--help}'[show help]' \\
    '(- *)'{-V,--version}'[show the version]' \\
    '--no-color[no colour in the output]' \\
    '1: :->command' \\
    '*:: :->args'
  case $state in
    command) _describe -t commands 'sfauth command' commands ;;
    args)
      case $words[1] in
${cases}
      esac ;;
  esac
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then _sfauth "$@"; else compdef _sfauth sfauth; fi
`;
}

function fishScript(commands: CompletionCommand[]): string {
  const esc = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = ['# sfauth fish completion: sfauth completion fish > ~/.config/fish/completions/sfauth.fish', 'complete -c sfauth -f'];
  // Commands that take a file as their argument (fingerprint KEY, sql KEY, inspect TOKEN-or--).
  const fileArgs = ['fingerprint', 'sql', 'inspect'].filter((n) => commands.some((c) => c.name === n));
  lines.push(`complete -c sfauth -n '__fish_seen_subcommand_from ${fileArgs.join(' ')}' -F`);
  lines.push(`complete -c sfauth -n '__fish_use_subcommand' -l help -d 'show help'`, `complete -c sfauth -n '__fish_use_subcommand' -l version -d 'show the version'`);
  for (const c of commands) lines.push(`complete -c sfauth -n '__fish_use_subcommand' -a ${c.name} -d ${esc(c.summary)}`);
  for (const c of commands) {
    const when = `-n '__fish_seen_subcommand_from ${c.name}'`;
    if (POSITIONAL[c.name]) lines.push(`complete -c sfauth ${when} -a ${esc(POSITIONAL[c.name]!.join(' '))}`);
    for (const o of c.options) {
      const long = o.flags.find((f) => f.startsWith('--'))!.slice(2);
      const short = o.flags.find((f) => /^-[a-zA-Z]$/.test(f));
      const head = `complete -c sfauth ${when}${short ? ` -s ${short.slice(1)}` : ''} -l ${long}`;
      const values = valuesOf(c.name, `--${long}`);
      let what = '';
      if (CONNECTION_FLAGS.includes(`--${long}`)) what = ` -x -a '(sfauth completion --list-connections 2>/dev/null)'`;
      else if (values) what = ` -x -a ${esc(values.join(' '))}`;
      else if (o.path) what = ' -r -F';
      else if (o.takesValue) what = ' -x';
      lines.push(`${head}${what} -d ${esc(o.description)}`);
    }
  }
  return lines.join('\n') + '\n';
}
