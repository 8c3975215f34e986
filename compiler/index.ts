// The library face of Tollgate (package.json "main"): what an agent embedding Tollgate needs. Manifests to an
// IR Program (compile), the Program into the kernel (load / unload / status), and the long-lived dataplane
// handle that applies rules modified in place incrementally (openDataplane).
export { compile, loadModel, type CompileOptions, type Compiled } from './pipeline';
export type { Program } from './ir/types';
export { load, unload, status, LoadError, type LoadOptions, type LoadReport, type StatusReport, type UnloadReport } from './load/loader';
export { openDataplane, type Dataplane, type DataplaneOptions, type DataplaneReport } from './load/dataplane';
