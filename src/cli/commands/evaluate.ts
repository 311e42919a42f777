import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const command: CliCommand = {
  name: 'evaluate',
  register(program) {
    program
      .command('evaluate')
      .description('(not available yet)')
      .allowUnknownOption()
      .action(() => {
        throw new FitspecError({ code: 'cli.not-implemented', message: '`evaluate` is not available yet' });
      });
  },
};
export default command;
