import type { KernelTable } from '../types';
import { activation, activationBackward } from './activation';
import { conv2dBackward, conv2dForward } from './conv';
import { binary } from './elementwise';
import { gemm, gemmBatch } from './gemm';
import {
  batchBackward, batchForward, rowwiseBackward, rowwiseForward, slotMixBackward, slotMixForward, slotwiseBackward, slotwiseForward,
} from './norm';
import { modulate } from './modulate';
import { sum } from './reduce';
import { maxPool2dBackward, maxPool2dForward, resizeBackward, resizeForward, windowAverageBackward, windowAverageForward } from './pool';

/** The `js` backend: plain TypeScript loops over typed arrays, the reference for every other backend. */
export const jsKernels: KernelTable = {
  name: 'js',
  rowwiseForward,
  rowwiseBackward,
  slotwiseForward,
  slotwiseBackward,
  batchForward,
  batchBackward,
  binary,
  activation,
  activationBackward,
  gemm,
  gemmBatch,
  conv2dForward,
  conv2dBackward,
  slotMixForward,
  slotMixBackward,
  maxPool2dForward,
  maxPool2dBackward,
  windowAverageForward,
  windowAverageBackward,
  resizeForward,
  resizeBackward,
  sum,
  modulate,
};
