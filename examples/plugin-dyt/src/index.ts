// normkit-plugin-dyt: Dynamic Tanh as a third-party normkit plugin.
export { DynamicTanh, dynamicTanh, tanhFloat32 } from './dynamic-tanh';
export type { DynamicTanhOptions, DynamicTanhFunctionOptions } from './dynamic-tanh';
export { dynamicTanhPlugin } from './plugin';
