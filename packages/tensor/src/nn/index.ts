export { Module, Parameter } from './module';
export type { StateDict, LoadStateDictOptions, LoadStateDictResult } from './module';
