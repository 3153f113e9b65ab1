package pix2mobile.core

import java.util.Random

/**
 * The one interface every runtime adapter of the app implements (LiteRT for .tflite, ExecuTorch
 * for .pte, PyTorch Lite for .ptl). Inputs come in the artifact's order, shapes and layouts (its
 * manifest row); outputs go back the same way. Any failure of the runtime throws: an adapter never
 * returns an empty or partial result.
 */
interface ModelRuntime : AutoCloseable {
    /** What runs, for the screen and the self-test ("LiteRT 1.4.2 CPU, 4 threads"). */
    val label: String

    fun run(inputs: List<FloatTensor>): List<FloatTensor>
}

/** Wall-clock time of one photo split as the app shows it. */
data class Timings(
    val preMs: Double,
    val inferenceMs: Double,
    val postMs: Double,
) {
    val totalMs: Double get() = preMs + inferenceMs + postMs
}

class Output(
    val image: RgbImage,
    val timings: Timings,
    val runs: Int,
)

/**
 * A photo through one artifact by a plan of docs/preprocessing.md: pixels -> input tensors in the
 * artifact's layout and range (plus z or alpha), the runtime, output tensor -> pixels. The app
 * and the command-line tool both go through here.
 */
class Pipeline(
    val artifact: ArtifactInfo,
    val modelSize: Size,
) {
    private val image = artifact.imageInput
    private val out = artifact.imageOutput

    init {
        for (t in artifact.inputs) {
            if (t.kind == TensorInfo.Kind.SCALAR && t.count != 1) throw FormatError("${t.name}: a scalar input must hold one value")
        }
    }

    /** Whether this artifact takes a photo (the morph does not). */
    val takesPhoto: Boolean get() = image != null

    val latent: TensorInfo? get() = artifact.inputs.firstOrNull { it.kind == TensorInfo.Kind.LATENT }

    val scalar: TensorInfo? get() = artifact.inputs.firstOrNull { it.kind == TensorInfo.Kind.SCALAR }

    /** Modes this artifact can run a photo of [photo] size in. */
    fun modes(): List<Mode> = if (takesPhoto) listOf(Mode.FIT, Mode.TILE) else emptyList()

    /** The image input tensor of a canvas at the model's size. */
    fun imageTensor(canvas: RgbImage): FloatTensor {
        val spec = image ?: throw FormatError("${artifact.key} takes no photo")
        return Pixels.toTensor(canvas, spec.range, spec.layout)
    }

    /** The artifact's inputs in order for one canvas (null for the morph), z and alpha. */
    fun feed(
        canvas: RgbImage?,
        z: FloatTensor?,
        alpha: Float?,
    ): List<FloatTensor> =
        artifact.inputs.map { t ->
            when (t.kind) {
                TensorInfo.Kind.IMAGE -> {
                    imageTensor(canvas ?: throw FormatError("${artifact.key} needs a photo"))
                }

                TensorInfo.Kind.LATENT -> {
                    val v = z ?: throw FormatError("${artifact.key} takes a latent z (${t.name}); draw one with Latents.draw")
                    if (v.data.size != t.count) throw FormatError("${t.name} holds ${t.count} values, z has ${v.data.size}")
                    FloatTensor(t.shape, v.data)
                }

                TensorInfo.Kind.SCALAR -> {
                    val a = alpha ?: throw FormatError("${artifact.key} takes a scalar ${t.name} (the morph's alpha)")
                    FloatTensor(t.shape, floatArrayOf(a))
                }
            }
        }

    fun outputPixels(tensor: FloatTensor): RgbImage = Pixels.toPixels(tensor, out.range, out.layout)

    /**
     * Run [photo] through [runtime] by [mode] (fit or tile); for the morph (no photo) the output at
     * the model's size. Pre-process, inference and post-process are timed apart.
     */
    fun apply(
        runtime: ModelRuntime,
        photo: RgbImage?,
        mode: Mode = Mode.FIT,
        z: FloatTensor? = null,
        alpha: Float? = null,
    ): Output {
        val clock = Stopwatch()
        if (!takesPhoto) {
            val inputs = feed(null, z, alpha)
            val pre = clock.lap()
            val y = run(runtime, inputs)
            val inf = clock.lap()
            val img = outputPixels(y)
            return Output(img, Timings(pre, inf, clock.lap()), 1)
        }
        val p = photo ?: throw FormatError("${artifact.key} needs a photo")
        return when (mode) {
            Mode.FIT -> {
                val plan = Plans.fitPlan(p.size, modelSize)
                val inputs = feed(Plans.letterbox(p, plan), z, alpha)
                val pre = clock.lap()
                val y = run(runtime, inputs)
                val inf = clock.lap()
                val img = Plans.unletterbox(outputPixels(y), plan)
                Output(img, Timings(pre, inf, clock.lap()), 1)
            }

            Mode.TILE -> {
                val plan = Plans.tilePlan(p.size, modelSize)
                var pre = 0.0
                var inf = 0.0
                val outputs =
                    Plans.tiles(p, plan).map { tile ->
                        val inputs = feed(tile, z, alpha)
                        pre += clock.lap()
                        val y = run(runtime, inputs)
                        inf += clock.lap()
                        y
                    }
                pre += clock.lap()
                val img = Plans.blend(plan, outputs, out.range, out.layout)
                Output(img, Timings(pre, inf, clock.lap()), outputs.size)
            }

            Mode.NATIVE -> {
                throw FormatError("native mode runs only eager PyTorch or size-flexible artifacts; use fit or tile")
            }
        }
    }

    private fun run(
        runtime: ModelRuntime,
        inputs: List<FloatTensor>,
    ): FloatTensor {
        val outs = runtime.run(inputs)
        if (outs.isEmpty()) throw RuntimeFailure("${runtime.label} returned no output")
        val y = outs[0]
        val expect = out.shape
        if (!y.shape.contentEquals(expect)) {
            throw RuntimeFailure(
                "${runtime.label} returned shape ${y.shape.contentToString()}, the manifest says ${expect.contentToString()}",
            )
        }
        return y
    }
}

/** A runtime failed or returned something the manifest does not describe. */
class RuntimeFailure(
    message: String,
    cause: Throwable? = null,
) : Exception(message, cause)

/** Latent draws for BicycleGAN's z: N(0, 1) clipped to the input's range (the app's "new sample"). */
object Latents {
    fun draw(
        spec: TensorInfo,
        random: Random,
    ): FloatTensor =
        FloatTensor(spec.shape, FloatArray(spec.count) { random.nextGaussian().toFloat().coerceIn(spec.range.lo, spec.range.hi) })
}

/** Milliseconds between laps, from System.nanoTime. */
class Stopwatch {
    private var last = System.nanoTime()

    fun lap(): Double {
        val now = System.nanoTime()
        val ms = (now - last) / 1e6
        last = now
        return ms
    }
}
