import { reluLowering, tanhLowering, siluLowering, geluLowering, sigmoidLowering, softmaxLowering } from './activation';
import { dropoutLowering, flattenLowering, identityLowering, sequentialLowering } from './containers';
import { convTranspose2dLowering } from './conv-transpose2d';
import { conv2dLowering } from './conv2d';
import { embeddingLowering } from './embedding';
import { upsampleLowering } from './interpolate';
import { linearLowering } from './linear';
import { multiHeadAttentionLowering } from './multi-head-attention';
import { adaptiveAvgPool2dLowering, avgPool2dLowering, maxPool2dLowering } from './pool';

export { reluLowering, tanhLowering, siluLowering, geluLowering, dropoutLowering, flattenLowering, identityLowering, sequentialLowering, conv2dLowering, convTranspose2dLowering, linearLowering, multiHeadAttentionLowering, embeddingLowering,
  sigmoidLowering, softmaxLowering, maxPool2dLowering, avgPool2dLowering, adaptiveAvgPool2dLowering, upsampleLowering };

/** The lowerings of @normkit/tensor's own layers, always available to exportOnnx. */
export const coreLowerings = [
  linearLowering, conv2dLowering, convTranspose2dLowering, reluLowering, tanhLowering, siluLowering, geluLowering,
  sequentialLowering, identityLowering, dropoutLowering, flattenLowering, multiHeadAttentionLowering, embeddingLowering,
  sigmoidLowering, softmaxLowering, maxPool2dLowering, avgPool2dLowering, adaptiveAvgPool2dLowering, upsampleLowering,
] as const;
