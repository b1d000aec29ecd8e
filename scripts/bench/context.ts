/** What every benchmark gets from the runner. */
export interface BenchContext {
  /** The short run (`--quick`): fewer repetitions, shorter loads. */
  quick: boolean;
  /** Progress lines (stderr). */
  log: (line: string) => void;
  /** Measured runs of each load, interleaved with their baselines (noise hits both). */
  rounds: number;
  /** Durations in seconds. */
  seconds: {
    /** One measured load run (wrk, grpc clients, event streams), per round. */
    load: number;
    /** The memory soak. */
    soak: number;
  };
  /** When set, the orchestrator under the gateway load writes a CPU profile here. */
  profileDir?: string;
}
