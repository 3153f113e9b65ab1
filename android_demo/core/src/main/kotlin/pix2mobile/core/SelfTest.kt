package pix2mobile.core

/**
 * PSNR as pix2mobile's parity gate computes it (src/pix2mobile/runtimes/parity.py): both tensors
 * mapped from their range onto [0, 1] and clipped (what a screen shows), MSE in float64, the
 * peak 1 (or the reference's peak-to-peak when that is under 0.25), capped at 100 dB; a
 * non-finite value in the candidate gives -infinity.
 */
object Psnr {
    const val CAP_DB = 100.0
    const val SMALL_RANGE = 0.25

    fun psnr(
        reference: FloatTensor,
        candidate: FloatTensor,
        range: ValueRange,
    ): Double {
        if (!reference.shape.contentEquals(candidate.shape)) {
            throw RuntimeFailure("shape ${candidate.shape.contentToString()} differs from the golden ${reference.shape.contentToString()}")
        }
        if (candidate.data.any { !it.isFinite() }) return Double.NEGATIVE_INFINITY
        val lo = range.lo.toDouble()
        val span = range.hi.toDouble() - lo

        fun unit(v: Float) = ((v.toDouble() - lo) / span).coerceIn(0.0, 1.0)
        var mse = 0.0
        var rMin = Double.POSITIVE_INFINITY
        var rMax = Double.NEGATIVE_INFINITY
        for (k in reference.data.indices) {
            val r = unit(reference.data[k])
            val d = r - unit(candidate.data[k])
            mse += d * d
            rMin = minOf(rMin, r)
            rMax = maxOf(rMax, r)
        }
        mse /= reference.data.size
        val ptp = rMax - rMin
        val peak = if (ptp >= SMALL_RANGE) 1.0 else maxOf(ptp, 1e-6)
        if (mse <= peak * peak * Math.pow(10.0, -CAP_DB / 10)) return CAP_DB
        return 10.0 * Math.log10(peak * peak / mse)
    }
}

/** One artifact's self-test: green when [psnrDb] reaches [thresholdDb] and nothing failed. */
class ArtifactCheck(
    val model: String,
    val artifact: String,
    val runtime: String,
    val psnrDb: Double?,
    val thresholdDb: Double,
    val error: String?,
    val inferenceMs: Double?,
) {
    val passed: Boolean get() = error == null && psnrDb != null && psnrDb >= thresholdDb

    fun describe(): String =
        when {
            error != null -> {
                "$model $artifact: FAILED: $error"
            }

            else -> {
                "$model $artifact: PSNR %.2f dB vs Python (threshold %.1f dB)%s via %s".format(
                    java.util.Locale.ROOT,
                    psnrDb,
                    thresholdDb,
                    inferenceMs?.let { ", %.1f ms".format(java.util.Locale.ROOT, it) } ?: "",
                    runtime,
                ) + if (passed) "" else ": BELOW THRESHOLD"
            }
        }
}

/**
 * The self-test: every bundled artifact on its golden input, its output held against the output
 * Python got from the same artifact with its own runtime. The golden input itself is first
 * recomputed from the golden photo by this core and must equal Python's bit for bit, so the
 * test covers pre-processing as well as the runtime.
 */
object SelfTest {
    const val DEFAULT_THRESHOLD_DB = 30.0

    fun threshold(a: BundledArtifact): Double = a.thresholdDb ?: DEFAULT_THRESHOLD_DB

    fun goldenInputs(
        files: FileSource,
        model: BundledModel,
        a: BundledArtifact,
    ): List<FloatTensor> = a.inputs.map { t -> files.open(model.path(t.file)).use { Npy.read(it).tensor() } }

    fun goldenOutputs(
        files: FileSource,
        model: BundledModel,
        a: BundledArtifact,
    ): List<FloatTensor> = a.outputs.map { t -> files.open(model.path(t.file)).use { Npy.read(it).tensor() } }

    /**
     * What this core computes differs from the bundled golden input: one line per difference
     * (empty when the canvas and every image input are bit-equal to Python's).
     */
    fun checkPreprocessing(
        files: FileSource,
        model: BundledModel,
        a: BundledArtifact,
    ): List<String> {
        val problems = ArrayList<String>()
        val row = model.row(a)
        val image = row.imageInput ?: return problems
        val photo = files.open(model.path(model.photo)).use { Npy.read(it).image() }
        val plan = Plans.fitPlan(photo.size, image.imageSize)
        val canvas = Plans.letterbox(photo, plan)
        a.canvas?.let { path ->
            val golden = files.open(model.path(path)).use { Npy.read(it).image() }
            if (!golden.contentEquals(canvas)) problems.add("${a.key}: the fit canvas differs from Python's ($path)")
        }
        val mine = Pixels.toTensor(canvas, image.range, image.layout)
        val golden =
            a.inputs.firstOrNull { it.name == image.name } ?: return problems + "${a.key}: bundle.json lists no golden ${image.name}"
        val theirs = files.open(model.path(golden.file)).use { Npy.read(it).tensor() }
        if (!theirs.shape.contentEquals(mine.shape)) {
            problems.add(
                "${a.key}: golden ${image.name} has shape ${theirs.shape.contentToString()}, the core made ${mine.shape.contentToString()}",
            )
        } else {
            val differ =
                mine.data.indices.count {
                    java.lang.Float.floatToRawIntBits(mine.data[it]) !=
                        java.lang.Float.floatToRawIntBits(theirs.data[it])
                }
            if (differ >
                0
            ) {
                problems.add("${a.key}: $differ of ${mine.data.size} values of ${image.name} differ in their bits from Python's")
            }
        }
        return problems
    }

    /** Run [runtime] on the golden inputs and compare every output; never throws. */
    fun check(
        files: FileSource,
        model: BundledModel,
        a: BundledArtifact,
        runtime: ModelRuntime,
    ): ArtifactCheck {
        val threshold = threshold(a)
        return try {
            val pre = checkPreprocessing(files, model, a)
            if (pre.isNotEmpty()) return ArtifactCheck(model.name, a.key, runtime.label, null, threshold, pre.joinToString("; "), null)
            val inputs = goldenInputs(files, model, a)
            val expected = goldenOutputs(files, model, a)
            val t0 = System.nanoTime()
            val got = runtime.run(inputs)
            val ms = (System.nanoTime() - t0) / 1e6
            if (got.size != expected.size) throw RuntimeFailure("${runtime.label} returned ${got.size} outputs, expected ${expected.size}")
            val psnr = expected.indices.minOf { k -> Psnr.psnr(expected[k], got[k], a.outputs[k].range) }
            ArtifactCheck(model.name, a.key, runtime.label, psnr, threshold, null, ms)
        } catch (e: Exception) {
            ArtifactCheck(model.name, a.key, runtime.label, null, threshold, "${e.javaClass.simpleName}: ${e.message}", null)
        }
    }
}
