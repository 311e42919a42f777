import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'doctor',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('doctor')
      .description('Show the TensorFlow backend this machine trains on: versions, threads, native binding, GPU / CUDA found or why not')
      .option('--backend <choice>', 'backend to check: auto | tensorflow | tensorflow-gpu | cpu', 'auto')
      .action(async (opts: { backend: string }) => {
        const { availableParallelism } = await import('node:os');
        const { existsSync } = await import('node:fs');
        const { fail } = await import('../../errors.js');
        const backend = await import('../../backend.js');
        const { TF_VERSION, libCacheDir, findTfjsNode, bindingPath } = await import('../../../scripts/native/layout.mjs');

        const choice = opts.backend as import('../../backend.js').BackendChoice;
        if (!backend.BACKEND_CHOICES.includes(choice)) {
          fail('cli.bad-option', `unknown backend \`${opts.backend}\`.`, { expected: backend.BACKEND_CHOICES.join(' | '), received: opts.backend });
        }
        const gpu = backend.probeGpu();
        const tfjsNode = findTfjsNode();
        const expectedBinding = tfjsNode ? bindingPath(tfjsNode) : undefined;

        let info: import('../../backend.js').BackendInfo | undefined;
        let loadError: unknown;
        try {
          info = await backend.initBackend(choice);
        } catch (e) {
          loadError = e;
        }

        const rows: [string, string][] = [];
        rows.push(['backend', info ? `${info.name} (${info.native ? 'native' : 'pure JavaScript, very slow'})` : 'none']);
        rows.push(['TensorFlow', info?.tensorflowVersion ?? 'not loaded']);
        rows.push(['tfjs', info?.tfjsVersion ?? 'not loaded']);
        if (info) rows.push(['threads', `intra-op ${info.threads.intraOp}, inter-op ${info.threads.interOp} (${availableParallelism()} cores)`]);
        if (info?.kernels) rows.push(['kernels', backend.describeKernels(info.kernels)]);
        if (info) {
          const { resolveEngine } = await import('../../train/engine/index.js');
          const { findGraphAddon } = await import('../../../scripts/native/layout.mjs');
          const e = resolveEngine('auto', info);
          rows.push(['engine', `${e.kind} by default (train.engine: auto): ${e.why}`]);
          rows.push(['graph addon', `${findGraphAddon()}${existsSync(findGraphAddon()) ? '' : ' (missing)'}`]);
        }
        rows.push(['tfjs-node', tfjsNode ? `${tfjsNode.pkg.version} in ${tfjsNode.dir}` : 'not installed']);
        rows.push(['native binding', info?.bindingPath ?? (expectedBinding ? `${expectedBinding}${existsSync(expectedBinding) ? '' : ' (missing)'}` : 'none')]);
        const libDir = libCacheDir();
        rows.push(['native cache', `${libDir} (TensorFlow ${TF_VERSION}: ${existsSync(libDir) ? 'present' : 'absent'})`]);
        rows.push(['Node', `${process.version} (N-API ${process.versions.napi}), ${process.platform}-${process.arch}`]);
        rows.push(['GPU', gpu.usable ? `usable: ${gpu.devices?.join('; ')}` : `not usable: ${gpu.reason}`]);
        rows.push(['  tfjs-node-gpu', gpu.package ?? 'not installed']);
        rows.push(['  nvidia-smi', gpu.nvidiaSmi ? `${gpu.nvidiaSmi}${gpu.devices?.length ? ` (${gpu.devices.join('; ')})` : ' (no GPU listed)'}` : 'not found']);
        rows.push(['  CUDA runtime', gpu.cudart ?? 'libcudart not found']);
        rows.push(['  cuDNN', gpu.cudnn ?? 'libcudnn not found']);
        const width = Math.max(...rows.map(([k]) => k.length));
        process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');

        if (loadError) throw loadError;
        if (info && !info.native && choice !== 'cpu') {
          fail('backend.native-unavailable', 'no native TensorFlow backend is usable: training would run on the pure-JS backend, orders of magnitude slower.', {
            hint: 'Run `node scripts/native/install.mjs` (it runs on `npm install`) and read its message.',
          });
        }
      });
  },
};
export default command;
