import { examples, type AirlockCommand } from '../command.js';

export const chartImages: AirlockCommand = {
  command: 'images <chart>',
  describe: 'list the image references a Helm chart names in values.yaml and templates (literal names only)',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 chart images cloudgrid-1.4.2.tgz', 'the images a chart names'],
      ]))
      .positional('chart', { type: 'string', describe: 'chart .tgz or directory' }),
  run: async (args, ctx) => (await import('./impl/chart-images.js')).runChartImages(args, ctx),
};
