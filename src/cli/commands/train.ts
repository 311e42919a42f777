import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const command: CliCommand = {
  name: 'train',
  register(program) {
    program
      .command('train')
      .description('(not available yet)')
      .allowUnknownOption()
      .action(() => {
        throw new FitspecError({ code: 'cli.not-implemented', message: '`train` is not available yet' });
      });
  },
};
export default command;
