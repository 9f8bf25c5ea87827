import { OptionError, init, type Generator, type Linear, type MultiHeadAttention } from '@normkit/tensor';

/** Which model a DeepNorm block belongs to: the paper's three cases. */
export type DeepNormArchitecture =
  | { architecture: 'encoder-only'; layers: number }
  | { architecture: 'decoder-only'; layers: number }
  | { architecture: 'encoder-decoder'; encoderLayers: number; decoderLayers: number; part: 'encoder' | 'decoder' };

/** DeepNorm's skip scale alpha and initialisation gain beta. */
export interface DeepNormConstants {
  alpha: number;
  beta: number;
}

function positiveInteger(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new OptionError({ op, expected: `${name} to be a positive integer (a number of layers)`, given: `${name} = ${String(value)}` });
  }
  return value;
}

/**
 * The defaults of DeepNet (Wang, Ma, Dong, Huang, Zhang & Wei, "DeepNet: Scaling Transformers to
 * 1,000 Layers", 2022, Figure 2), for N encoder and M decoder layers:
 *
 *   encoder-only:             alpha = (2N)^(1/4),              beta = (8N)^(-1/4)
 *   decoder-only:             alpha = (2M)^(1/4),              beta = (8M)^(-1/4)
 *   encoder-decoder, encoder: alpha = 0.81 (N^4 M)^(1/16),     beta = 0.87 (N^4 M)^(-1/16)
 *   encoder-decoder, decoder: alpha = (3M)^(1/4),              beta = (12M)^(-1/4)
 *
 * @example
 * deepNormConstants({ architecture: 'decoder-only', layers: 48 }); // { alpha: 3.13, beta: 0.22 }
 */
export function deepNormConstants(spec: DeepNormArchitecture): DeepNormConstants {
  const op = 'deepNormConstants';
  switch (spec?.architecture) {
    case 'encoder-only':
    case 'decoder-only': {
      const n = positiveInteger(op, 'layers', spec.layers);
      return { alpha: (2 * n) ** 0.25, beta: (8 * n) ** -0.25 };
    }
    case 'encoder-decoder': {
      const n = positiveInteger(op, 'encoderLayers', spec.encoderLayers);
      const m = positiveInteger(op, 'decoderLayers', spec.decoderLayers);
      if (spec.part === 'encoder') return { alpha: 0.81 * (n ** 4 * m) ** (1 / 16), beta: 0.87 * (n ** 4 * m) ** (-1 / 16) };
      if (spec.part === 'decoder') return { alpha: (3 * m) ** 0.25, beta: (12 * m) ** -0.25 };
      throw new OptionError({ op, expected: "part 'encoder' or 'decoder' for an encoder-decoder model", given: `part = ${JSON.stringify(spec.part)}` });
    }
    default:
      throw new OptionError({
        op,
        expected: "architecture 'encoder-only', 'decoder-only' or 'encoder-decoder'",
        given: `architecture = ${JSON.stringify((spec as { architecture?: unknown } | undefined)?.architecture)}`,
      });
  }
}

/**
 * DeepNet's initialisation (the paper's `deepnorm_init`): Xavier-normal with gain beta for the
 * feed-forward weights and the value and output projections, gain 1 for the query and key
 * projections. Biases are left as they are.
 */
export function deepNormInit(modules: { attention: MultiHeadAttention; feedforward: readonly Linear[] }, beta: number, generator?: Generator): void {
  const { attention, feedforward } = modules;
  for (const linear of [...feedforward, attention.vProj, attention.outProj]) init.xavierNormal(linear.weight, { gain: beta, generator });
  for (const linear of [attention.qProj, attention.kProj]) init.xavierNormal(linear.weight, { gain: 1, generator });
}
