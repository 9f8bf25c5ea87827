export { saveSafetensors, loadSafetensors, parseSafetensors, SafetensorsError } from './safetensors';
export type { SafetensorsDType, SafetensorsFile } from './safetensors';
