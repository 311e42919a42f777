import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const command: CliCommand = {
  name: 'validate',
  register(program) {
    program
      .command('validate')
      .description('(not available yet)')
      .allowUnknownOption()
      .action(() => {
        throw new FitspecError({ code: 'cli.not-implemented', message: '`validate` is not available yet' });
      });
  },
};
export default command;
