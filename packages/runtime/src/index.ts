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
  type ImageManifest,
  type ImageStoreOptions,
  type ProgressListener,
} from './image/image-store.js';
export { DEFAULT_IMAGE_RECIPE, imageVersion, type ImageRecipe } from './image/image-recipe.js';
export {
  SandboxStartError,
  SANDBOX_HOME,
  type PreparedSandbox,
  type RunRequest,
  type SandboxLanguage,
  type SandboxLimits,
  type SandboxOutcome,
  type SandboxStatus,
} from './sandbox/sandbox-types.js';
export { OutputCapture } from './sandbox/output-capture.js';
