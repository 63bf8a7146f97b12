import type { AirlockCommand } from '../command.js';
import { notImplemented } from '../command.js';

export const chartImages: AirlockCommand = {
  command: 'images <chart>',
  describe: 'list the image references a Helm chart names in values.yaml and templates',
  builder: (y) => y.positional('chart', { type: 'string', describe: 'chart .tgz or directory' }),
  run: async () => notImplemented('chart images', 8),
};
