// Node-only entry: writes the exported model to a file (the main entry stays browser-safe).
import { writeFile } from 'node:fs/promises';
import type { Module } from '@normkit/tensor';
import { exportOnnx, type ExportOnnxOptions } from './export';

/** Exports `module` (eval mode) like exportOnnx and writes the bytes to `path`; resolves to the bytes. */
export async function saveOnnx(module: Module, path: string, options: ExportOnnxOptions): Promise<Uint8Array> {
  const bytes = exportOnnx(module, options);
  await writeFile(path, bytes);
  return bytes;
}
