/** The performance targets of docs/architecture.md that this benchmark measures. */

/** Sandbox overhead p50, warm: accepted -> code running. */
export const WARM_OVERHEAD_LIMIT = { value: 1, text: '1 ms' };
/** Sandbox overhead p50 on the cold path. */
export const COLD_OVERHEAD_LIMIT = { value: 8, text: '8 ms' };
/** python `print(1)` over HTTP p50, sequential, as a multiple of a raw cold `bwrap ... python3 -c`. */
export const HTTP_RATIO_LIMIT = { value: 0.3, text: '0.3x' };
/** Sustained python executions/s at concurrency 8, as a multiple of the CPU floor. */
export const THROUGHPUT_RATIO_MINIMUM = 0.7;
/** Idle warm slot memory for python, in KiB of PSS. */
export const SLOT_MEMORY_LIMIT = { value: 4 * 1024, text: '4 MiB' };
/** Added latency p50 of a thread call (restore + save) over an ephemeral one, 50 MB home with one changed file. */
export const THREAD_ADDED_LIMIT = { value: 5, text: '5 ms' };
