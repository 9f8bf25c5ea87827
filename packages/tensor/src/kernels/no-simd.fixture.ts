// Run by kernels.test.ts in a child process: WebAssembly is taken away before the package loads
// (MODE=missing deletes it; MODE=no-simd makes `WebAssembly.validate` refuse every module, as a runtime
// without SIMD128 does). The backend must fall back to `js` without a word, compute correctly, and
// `setBackend('wasm')` must say why it cannot. Prints one JSON line.
if (process.env.MODE === 'missing') {
  delete (globalThis as { WebAssembly?: unknown }).WebAssembly;
} else {
  WebAssembly.validate = () => false;
}
const { getBackend, matmul, setBackend, tensor } = await import('../index');
const backend = getBackend();
const product = [...matmul(tensor([[1, 2], [3, 4]]), tensor([[5, 6], [7, 8]])).data];
let refusal = '';
try {
  setBackend('wasm');
} catch (error) {
  refusal = `${(error as Error).name}: ${(error as Error).message}`;
}
console.log(JSON.stringify({ backend, product, refusal, after: getBackend() }));

export {};
