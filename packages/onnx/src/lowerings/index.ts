import { reluLowering, tanhLowering, siluLowering, geluLowering } from './activation';
import { dropoutLowering, flattenLowering, identityLowering, sequentialLowering } from './containers';
import { conv2dLowering } from './conv2d';
import { linearLowering } from './linear';
import { multiHeadAttentionLowering } from './multi-head-attention';

export { reluLowering, tanhLowering, siluLowering, geluLowering, dropoutLowering, flattenLowering, identityLowering, sequentialLowering, conv2dLowering, linearLowering, multiHeadAttentionLowering };

/** The lowerings of @normkit/tensor's own layers, always available to exportOnnx. */
export const coreLowerings = [
  linearLowering, conv2dLowering, reluLowering, tanhLowering, siluLowering, geluLowering,
  sequentialLowering, identityLowering, dropoutLowering, flattenLowering, multiHeadAttentionLowering,
] as const;
