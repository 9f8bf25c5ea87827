export { saveSafetensors, loadSafetensors, parseSafetensors, SafetensorsError } from './safetensors';
export type { SafetensorsDType, SafetensorsReadDType, SafetensorsFile } from './safetensors';
