import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const command: CliCommand = {
  name: 'summary',
  register(program) {
    program
      .command('summary')
      .description('(not available yet)')
      .allowUnknownOption()
      .action(() => {
        throw new FitspecError({ code: 'cli.not-implemented', message: '`summary` is not available yet' });
      });
  },
};
export default command;
