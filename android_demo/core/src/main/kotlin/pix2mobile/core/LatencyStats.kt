package pix2mobile.core

/**
 * Latency statistics of repeated runs, as the benchmark reports them: warm-up runs are timed but
 * left out; median and p90 by the nearest-rank method over the measured runs.
 */
class LatencyStats(
    val warmup: Int,
    samplesMs: List<Double>,
) {
    val samplesMs: List<Double> = samplesMs.toList()
    private val sorted = samplesMs.sorted()

    init {
        require(samplesMs.isNotEmpty()) { "no measured runs" }
    }

    val runs: Int get() = sorted.size
    val medianMs: Double get() = percentile(50.0)
    val p90Ms: Double get() = percentile(90.0)
    val minMs: Double get() = sorted.first()
    val maxMs: Double get() = sorted.last()
    val meanMs: Double get() = sorted.sum() / sorted.size

    /** Nearest rank: the smallest sample with at least [p] percent of the samples at or below it. */
    fun percentile(p: Double): Double {
        require(p > 0.0 && p <= 100.0) { "percentile must be in (0, 100], got $p" }
        val rank = Math.ceil(p / 100.0 * sorted.size).toInt().coerceIn(1, sorted.size)
        return sorted[rank - 1]
    }

    fun describe(): String = "median %.1f ms, p90 %.1f ms over %d runs (%d warm-up)".format(medianMs, p90Ms, runs, warmup)

    companion object {
        /** Time [block] [warmup] + [runs] times; the warm-up runs are discarded. */
        fun measure(
            warmup: Int,
            runs: Int,
            block: () -> Unit,
        ): LatencyStats {
            require(warmup >= 0 && runs >= 1) { "need warmup >= 0 and runs >= 1, got $warmup, $runs" }
            repeat(warmup) { block() }
            val samples = ArrayList<Double>(runs)
            repeat(runs) {
                val t0 = System.nanoTime()
                block()
                samples.add((System.nanoTime() - t0) / 1e6)
            }
            return LatencyStats(warmup, samples)
        }
    }
}
