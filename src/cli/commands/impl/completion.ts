/**
 * `airlock completion bash|zsh`: a script that asks airlock itself what comes next. yargs answers
 * `airlock --get-yargs-completions WORDS...` with the commands, flags and choices that fit (its
 * completion protocol); the scripts only hand the words over and the answers to the shell.
 */
import { AirlockError } from '../../../errors.js';
import type { CliContext } from '../../context.js';

const BASH = `###-begin-airlock-completions-###
# airlock completion for bash: source <(airlock completion bash)
_airlock_completions() {
  local cur words reply
  cur="\${COMP_WORDS[COMP_CWORD]}"
  words=("\${COMP_WORDS[@]:0:COMP_CWORD+1}")
  # yargs lists one-letter aliases as --q, --v: offered as -q, -v only.
  reply=$(airlock --get-yargs-completions "\${words[@]}" 2>/dev/null | grep -v '^--.$')
  COMPREPLY=($(compgen -W "\${reply}" -- "\${cur}"))
  # Nothing airlock knows (a path, a value): let bash complete file names.
  if [ \${#COMPREPLY[@]} -eq 0 ]; then
    COMPREPLY=($(compgen -f -- "\${cur}"))
  fi
  return 0
}
complete -o bashdefault -o default -F _airlock_completions airlock
###-end-airlock-completions-###
`;

const ZSH = `#compdef airlock
###-begin-airlock-completions-###
# airlock completion for zsh: airlock completion zsh > "\${fpath[1]}/_airlock"
_airlock() {
  local -a reply
  local si=$IFS
  # ZSH_NAME makes yargs answer "name:description" pairs, which _describe shows.
  # yargs lists one-letter aliases as --q:..., offered as -q only.
  IFS=$'\\n' reply=($(ZSH_NAME=zsh airlock --get-yargs-completions "\${words[@]:0:$CURRENT}" 2>/dev/null | grep -v '^--.:'))
  IFS=$si
  if (( \${#reply} > 0 )); then
    _describe 'values' reply
  else
    _files
  fi
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _airlock "$@"
else
  compdef _airlock airlock
fi
###-end-airlock-completions-###
`;

export async function runCompletion(args: Record<string, unknown>, ctx: CliContext): Promise<void> {
  const shell = args.shell;
  if (shell !== 'bash' && shell !== 'zsh') throw new AirlockError('USAGE', 'name a shell: bash or zsh');
  const script = shell === 'bash' ? BASH : ZSH;
  ctx.outJson({ version: 1, shell, script });
  ctx.out(script.trimEnd());
}
