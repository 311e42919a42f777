import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const command: CliCommand = {
  name: 'demo',
  register(program) {
    program
      .command('demo')
      .description('(not available yet)')
      .allowUnknownOption()
      .action(() => {
        throw new FitspecError({ code: 'cli.not-implemented', message: '`demo` is not available yet' });
      });
  },
};
export default command;
