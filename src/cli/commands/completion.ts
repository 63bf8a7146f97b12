import { examples, type AirlockCommand } from '../command.js';

export const completion: AirlockCommand = {
  command: 'completion <shell>',
  describe: 'print a shell completion script for bash or zsh (commands, flags)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['source <($0 completion bash)', 'complete airlock in this bash session'],
        ['$0 completion bash > /etc/bash_completion.d/airlock', 'for every bash session'],
        ['$0 completion zsh > "${fpath[1]}/_airlock"', 'zsh: a file named _airlock in a directory of $fpath'],
      ]))
      .positional('shell', { choices: ['bash', 'zsh'] as const, describe: 'the shell to complete in' }),
  run: async (args, ctx) => (await import('./impl/completion.js')).runCompletion(args, ctx),
};
