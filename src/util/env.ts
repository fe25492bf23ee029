/**
 * @module torchlight/util/env: every environment variable of torchlight's own (prefix
 * `TORCHLIGHT_`), in one place, each with what it does. Code reads them through `ENV`;
 * the native addon reads the ones marked "(native)" itself, before any JS runs.
 */
export const ENV = {
  /** Path of the addon (`torchlight.node`) to load instead of build/Release's. */
  addon: "TORCHLIGHT_ADDON",
  /** "0" turns oneDNN (mkldnn) off, "1" keeps it on without the load-time self-check (native). */
  mkldnn: "TORCHLIGHT_MKLDNN",
  /** "0" leaves glibc malloc's thresholds alone (native). */
  mallopt: "TORCHLIGHT_MALLOPT",
  /** Intra-op threads of this process, set by the driver per worker (native; before OMP_NUM_THREADS). */
  numThreads: "TORCHLIGHT_NUM_THREADS",
  /** RunConfig's default storagePath (else ~/torchlight_results). */
  storagePath: "TORCHLIGHT_STORAGE_PATH",
  /** "1": the storage path is shared across nodes even though its filesystem looks local. */
  storageShared: "TORCHLIGHT_STORAGE_SHARED",
  /** The driver's control channel URL; its presence marks a worker process. */
  trainControl: "TORCHLIGHT_TRAIN_CONTROL",
  /** The per-attempt secret a worker presents to the driver. */
  trainSecret: "TORCHLIGHT_TRAIN_SECRET",
  /**
   * The secret of the run's private rendezvous store: initProcessGroup presents it (and rank 0,
   * when no launcher hosts the store, serves only clients that present it). Set by the driver.
   */
  storeSecret: "TORCHLIGHT_STORE_SECRET",
  /**
   * `torchlight launch`: the run's secret, shared by every node's agent (16-512 characters;
   * from a Kubernetes Secret, a scheduler's job environment). The agents' rendezvous store
   * serves only clients presenting it; workers never see it (each restart gets its own).
   */
  launchSecret: "TORCHLIGHT_LAUNCH_SECRET",
  /** `torchlight launch`: a file holding the run's secret (a mounted Kubernetes Secret), instead of TORCHLIGHT_LAUNCH_SECRET. */
  launchSecretFile: "TORCHLIGHT_LAUNCH_SECRET_FILE",
  /** `torchlight run`: a file the driver appends each run folder it opens to (one per line). */
  runFoldersFile: "TORCHLIGHT_RUN_FOLDERS_FILE",
  /** Which `TorchTrainer.fit()` call of the script a worker serves (0-based). */
  trainFitIndex: "TORCHLIGHT_TRAIN_FIT_INDEX",
  /** JSON list of the run folders of the script's earlier fit() calls (a worker returns them as Results). */
  trainPriorRuns: "TORCHLIGHT_TRAIN_PRIOR_RUNS",
  /** A worker's device ("cpu", "cuda:0"). */
  trainDevice: "TORCHLIGHT_TRAIN_DEVICE",
  /** When the driver spawned the worker (ms since the epoch; start-up tracing). */
  trainSpawnedAt: "TORCHLIGHT_TRAIN_SPAWNED_AT",
  /** "1": a worker prints when each start-up phase ended. */
  trainTrace: "TORCHLIGHT_TRAIN_TRACE",
  /** Dataset downloads: comma-separated base URLs tried in order instead of the dataset class's mirrors. */
  datasetMirrors: "TORCHLIGHT_DATASET_MIRRORS",
  /** Tests: milliseconds the hostile-file fuzz runs (default 4000). */
  fuzzMs: "TORCHLIGHT_FUZZ_MS",
  /** Tests: the fuzz's seed, to replay a failing case (default 12345). */
  fuzzSeed: "TORCHLIGHT_FUZZ_SEED",
  /** Tests and benchmarks: the Python with torch used for parity references (default /usr/bin/python3). */
  python: "TORCHLIGHT_PYTHON",
  /** Set-up: "1" skips apt-get (install nothing). */
  skipApt: "TORCHLIGHT_SKIP_APT",
  /** Build: "0" compiles the addon without ccache, "1" requires it (default: through ccache when installed). */
  ccache: "TORCHLIGHT_CCACHE",
  /** CI: where the Debian 13 root is cached (default /var/cache/torchlight). */
  cache: "TORCHLIGHT_CACHE",
  /** Build: force `_GLIBCXX_USE_CXX11_ABI` (0 or 1) for the addon (native/find-libtorch.mjs). */
  cxx11Abi: "TORCHLIGHT_CXX11_ABI",
  /** Tests: "0" keeps the dashboard's browser test from installing chromium (it skips saying so when chromium is absent). */
  browserInstall: "TORCHLIGHT_BROWSER_INSTALL",
  /** CI: "host" runs only the host's suite. */
  ciLines: "TORCHLIGHT_CI_LINES",
} as const;

/** The value of one of torchlight's variables (undefined when unset). */
export const env = (name: keyof typeof ENV): string | undefined => process.env[ENV[name]];
