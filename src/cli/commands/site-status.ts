import { examples, type AirlockCommand } from '../command.js';

export const siteStatus: AirlockCommand = {
  command: 'status',
  describe: 'freshness of the site from its import records: last bundle, when, signer, content age, last failure',
  builder: (y) =>
    y
      .epilogue(examples([
        ['$0 site status', 'the last import, when, by whom, how old the content is'],
        ['$0 site status --max-age 36h --prometheus /var/lib/node_exporter/airlock.prom', 'for monitoring: exit 1 when stale, and a textfile metric'],
      ]))
      .option('state-dir', { type: 'string', describe: 'the state directory `bundle import --state-dir` used (default under $XDG_STATE_HOME)' })
      .option('max-age', { type: 'string', describe: 'exit 1 when no import succeeded within this long (36h, 90m, 2d)' })
      .option('prometheus', { type: 'string', describe: 'also write the status as a node-exporter textfile (FILE.prom)' }),
  run: async (args, ctx) => (await import('./impl/site-status.js')).runSiteStatus(args, ctx),
};
