import type { ErrorObject } from 'ajv';
import { buildNetwork, type BlockDefT, type Network, type Path } from '../blocks.js';
import { toJsonSchema } from '../json-schema.js';
import { PlainLayerSpec } from '../schema/layers.js';
import { cachedValidator } from '../validate.js';
import type { Check, Finding } from './types.js';

let validator: ReturnType<typeof cachedValidator> | undefined;

/** Arguments of a layer written inside a named block, checked after its placeholders are substituted. */
function layerFindings(kind: string, args: unknown, path: Path, via: Path): Finding[] {
  validator ??= cachedValidator('block-layer', toJsonSchema(PlainLayerSpec));
  if (validator({ [kind]: args })) return [];
  const use = via.join('.');
  // One message per place: a union's branches (an int or a pair) each report, the first says enough.
  const seen = new Set<string>();
  const errors = (validator.errors ?? []).filter((e: ErrorObject) => e.keyword !== 'anyOf' && !seen.has(e.instancePath) && seen.add(e.instancePath) !== undefined);
  return errors.map((e: ErrorObject) => {
    const rel = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const extra = e.keyword === 'additionalProperties' ? String((e.params as { additionalProperty: string }).additionalProperty) : undefined;
    const at = [...path, ...rel, ...(extra ? [extra] : [])];
    const what = rel.slice(1).join('.') || kind;
    return {
      code: 'check.block-layer',
      severity: 'error' as const,
      atKey: extra !== undefined,
      path: at,
      message: `\`${kind}\` of the block used at \`${use}\`: \`${extra ?? what}\` ${extra ? 'is not an argument of this layer kind' : e.message}${e.keyword === 'type' || e.keyword === 'enum' ? `, got ${JSON.stringify(e.data)}` : ''}.`,
      received: extra ?? JSON.stringify(e.data),
    };
  });
}

function findings(net: Network, root: Path): Finding[] {
  const out: Finding[] = [];
  for (const p of net.problems) {
    // A plain stack's own sizes are the spatial-size check's.
    if (p.code === 'check.spatial-size' && p.path.length === root.length + 2 && net.plain) continue;
    const { path, ...rest } = p;
    out.push({ ...rest, severity: 'error', path });
  }
  const seen = new Map<string, Path>();
  const reported = new Set<string>();
  for (const n of net.nodes) {
    if (n.via && !['add', 'concatenate', 'multiply'].includes(n.kind)) {
      // A definition's mistake once, at the first use that shows it.
      for (const f of layerFindings(n.kind, n.args, n.path, n.via)) {
        const key = `${f.path.join('.')}|${f.received}`;
        if (!reported.has(key)) out.push(f);
        reported.add(key);
      }
    }
    const first = seen.get(n.name);
    if (first && !net.plain) {
      out.push({
        code: 'check.layer-name',
        severity: 'error',
        atKey: true,
        path: [...(n.via ?? n.path), ...(n.via ? ['block'] : [])],
        message: `two layers are named \`${n.name}\` (the first at \`${first.join('.')}\`); give one another \`name\`${n.via ? ' (in a repeated block, use a parameter or `${repetition}` in its names)' : ''}.`,
        received: n.name,
      });
    } else if (!first) seen.set(n.name, n.via ?? n.path);
  }
  return out;
}

/** Blocks: named blocks exist and get their parameters, every use's layers are valid, merges fit, names are unique. */
export const blocks: Check = {
  name: 'blocks',
  description:
    'error: a block uses an unknown named block or parameter, a layer of a named block is invalid once its parameters are substituted, the inputs of a merge (`residual`, `parallel`) have shapes that do not fit, or two layers of a network with blocks share a name.',
  run(exp, _data, plugins) {
    const base = exp.model.base as { layers?: unknown[]; blocks?: Record<string, BlockDefT> } | undefined;
    const input = [exp.data.image.height, exp.data.image.width, exp.data.image.channels];
    const out: Finding[] = [];
    let shape: number[] | undefined = input;
    if (base?.layers) {
      const net = buildNetwork(base.layers, base.blocks, ['model', 'base', 'layers'], input, plugins);
      out.push(...findings(net, ['model', 'base', 'layers']));
      shape = net.output < 0 ? input : net.nodes[net.output]!.shape;
    } else if (base) shape = undefined;
    const top = buildNetwork(exp.model.layers, (exp.model as { blocks?: Record<string, BlockDefT> }).blocks, ['model', 'layers'], shape, plugins);
    out.push(...findings(top, ['model', 'layers']));
    return out;
  },
};
