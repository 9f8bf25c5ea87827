// Running an exported ONNX file in the page with onnxruntime-web, to check it against the worker.
// onnxruntime-web is loaded on first use (its own chunk); its WebAssembly file is served by the app
// (a Vite asset of this build, never fetched from elsewhere) and named through ort.env.wasm.wasmPaths.
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import type { ExportReference } from './protocol';

/** How the ONNX model's outputs compare with the worker's eval outputs on the same samples. */
export interface OnnxCheck {
  rows: number;
  /** Rows whose argmax class is the same in both. */
  sameClass: number;
  /** Largest |onnx - worker| over every logit, and the bound it is held to (1e-4·max|worker| + 1e-5). */
  maxDiff: number;
  tolerance: number;
  ok: boolean;
}

function argmax(values: ArrayLike<number>, start: number, width: number): number {
  let best = 0;
  for (let c = 1; c < width; c++) if (values[start + c]! > values[start + best]!) best = c;
  return best;
}

/** Compares logits [rows, classes] from onnxruntime with the worker's. */
export function compareLogits(onnx: ArrayLike<number>, reference: ArrayLike<number>, rows: number): OnnxCheck {
  const width = reference.length / rows;
  let maxDiff = 0;
  let maxRef = 0;
  let sameClass = 0;
  for (let i = 0; i < reference.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(onnx[i]! - reference[i]!));
    maxRef = Math.max(maxRef, Math.abs(reference[i]!));
  }
  if (onnx.length !== reference.length) maxDiff = Infinity;
  for (let r = 0; r < rows; r++) if (argmax(onnx, r * width, width) === argmax(reference, r * width, width)) sameClass++;
  const tolerance = 1e-4 * maxRef + 1e-5;
  return { rows, sameClass, maxDiff, tolerance, ok: maxDiff <= tolerance && sameClass === rows };
}

/** Runs `bytes` in onnxruntime-web (WebAssembly, one thread) on the reference inputs and compares. */
export async function checkOnnx(bytes: Uint8Array, reference: ExportReference): Promise<OnnxCheck> {
  const ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.wasmPaths = { wasm: new URL(wasmUrl, document.baseURI).href };
  // One thread: the page's main thread must not block, and ORT's threads would compete with the runs' workers.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const input = new ort.Tensor('float32', reference.inputs, reference.shape);
    const outputs = await session.run({ [session.inputNames[0]!]: input });
    const logits = outputs[session.outputNames[0]!]!.data as Float32Array;
    return compareLogits(logits, reference.logits, reference.shape[0]!);
  } finally {
    await session.release();
  }
}
