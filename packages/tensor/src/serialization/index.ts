export { saveSafetensors, loadSafetensors, parseSafetensors, SafetensorsError } from './safetensors';
export type { SafetensorsDType, SafetensorsReadDType, SafetensorsFile } from './safetensors';
export { saveBundle, readBundle, loadBundle, describeSchedule, BUNDLE_FILES, BUNDLE_FORMAT, BUNDLE_VERSION } from './bundle';
export type { Bundle, BundleFiles, BundleManifest, BundleOptimizer, SaveBundleOptions, LoadBundleTargets, JsonValue } from './bundle';
