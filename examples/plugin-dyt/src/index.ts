// normkit-plugin-dyt: Dynamic Tanh as a third-party normkit plugin.
export { DynamicTanh, dynamicTanh, tanhFloat32 } from './dynamic-tanh.js';
export type { DynamicTanhOptions, DynamicTanhFunctionOptions } from './dynamic-tanh.js';
export { dynamicTanhPlugin } from './plugin.js';
