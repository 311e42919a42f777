import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const command: CliCommand = {
  name: 'augment-preview',
  register(program) {
    program
      .command('augment-preview')
      .description('(not available yet)')
      .allowUnknownOption()
      .action(() => {
        throw new FitspecError({ code: 'cli.not-implemented', message: '`augment-preview` is not available yet' });
      });
  },
};
export default command;
