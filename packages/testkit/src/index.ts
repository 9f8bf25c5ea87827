export { expectClose, expectGradcheck } from './assertions';
