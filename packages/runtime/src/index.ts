export {
  SandboxRuntime,
  RuntimeUnavailableError,
  type AcquiredSandbox,
  type SandboxRuntimeOptions,
} from './sandbox-runtime.js';
export { WarmPool, serializeKey, type PoolKey, type PoolStatistics, type WarmPoolOptions } from './pool/warm-pool.js';
export {
  ImageStore,
  ImageBuildError,
  type Image,
  type ImageStoreOptions,
  type ProgressListener,
} from './image/image-store.js';
export { ImageImportError } from './image/image-import-error.js';
export {
  manifestLanguages,
  type ImageLanguage,
  type ImageManifest,
  type ImagePackage,
  type ImageImportSource,
  type ImageSource,
} from './image/image-manifest.js';
export { imageVersion, type ImageRecipe, type NodeRelease, type NpmPin } from './image/image-recipe.js';
export { BUILTIN_IMAGE_RECIPES, DEFAULT_IMAGE_RECIPE, SANDBOX_HOOKS, SLIM_IMAGE_RECIPE } from './image/builtin-recipes.js';
export {
  SandboxStartError,
  SANDBOX_HOME,
  SANDBOX_HOST_SOCKETS,
  type PreparedSandbox,
  type RunRequest,
  type SandboxLanguage,
  type SandboxLimits,
  type SandboxNetworkMode,
  type SandboxStart,
  SANDBOX_STARTS,
  type SandboxOutcome,
  type SandboxStatus,
  type StorageAttachment,
} from './sandbox/sandbox-types.js';
export { hostRuleset } from './network/network-ruleset.js';
export type { NetworkFlow } from './network/network-receipt.js';
export type { ConnectorEndpoint } from './network/slot-connectors.js';
export { OutputCapture } from './sandbox/output-capture.js';
export { BASH_BUILTIN_READ_MAX_BYTES } from './sandbox/stubs.js';
export {
  LayerManifestError,
  assertLayerPath,
  compareLayerPaths,
  decodeManifest,
  encodeManifest,
  manifestDigest,
  mergeLayers,
  type LayerEntry,
  type LayerManifest,
} from './home/layer-manifest.js';
export { openLayerFile, scanLayer, type ScanLimits } from './home/layer-scanner.js';
export { LayerCache, type LayerSource } from './home/layer-cache.js';
export {
  evaluateHost,
  formatHostCheck,
  hostCanRun,
  type HostCheck,
  type HostCheckStatus,
  type HostFacts,
} from './host/host-checks.js';
export { diagnoseHost, probeHost, type HostProbeOptions } from './host/host-probes.js';
