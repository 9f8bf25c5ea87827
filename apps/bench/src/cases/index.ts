// Every case family, one line each: `export { cases as <family> } from './<family>';`.
// The family name prefixes its cases in the table and in results/latest.json.
export { cases as core } from './core';
export { cases as spatial } from './spatial';
export { cases as group } from './group';
export { cases as batch } from './batch';
export { cases as layer } from './layer';
export { cases as weight } from './weight';
export { cases as switchable } from './switchable';
export { cases as normFree } from './norm-free';
