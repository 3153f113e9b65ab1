package pix2mobile.core.cli

import pix2mobile.core.BundledModel
import pix2mobile.core.DirSource
import pix2mobile.core.FloatTensor
import pix2mobile.core.FormatError
import pix2mobile.core.Manifest
import pix2mobile.core.Mode
import pix2mobile.core.ModelRuntime
import pix2mobile.core.Npy
import pix2mobile.core.Pipeline
import pix2mobile.core.Pixels
import pix2mobile.core.Plans
import pix2mobile.core.Psnr
import pix2mobile.core.RgbImage
import pix2mobile.core.SelfTest
import java.awt.image.BufferedImage
import java.io.File
import java.util.Locale
import javax.imageio.ImageIO
import kotlin.system.exitProcess

/**
 * `java -jar pix2mobile-core.jar COMMAND ...`: the Android core's pre/post-processing and
 * self-test comparison on the desktop, so Python tests (and anyone) can hold it against
 * `pix2mobile apply`. The jar runs everything around a model but not the model itself: LiteRT,
 * ExecuTorch and PyTorch Lite ship Android libraries only.
 *
 * Exit status: 0 done, 1 a self-test failed, 2 a usage or input error (one line on stderr).
 */
const val USAGE = """usage:
  preprocess  EXPORT_DIR IMAGE OUT.npy --format F [--precision P] [--mode fit|tile] [--direction a2b|b2a]
      IMAGE (.png/.jpg, or an (H, W, 3) uint8 .npy) -> the input tensor of F's artifact, in its
      layout and range; tile mode writes every tile's tensor stacked on axis 0, in visiting order.
  postprocess EXPORT_DIR TENSOR.npy OUT.png|OUT.npy --format F [--like IMAGE] [--mode fit|tile] [--precision P]
      the artifact's output tensor (tile: the tiles' outputs stacked) -> pixels; --like gives the
      original photo (its size decides the fit crop or the tile plan). Without --like, fit writes
      the model-sized output (the morph's only mode).
  selftest    MODELS_DIR
      every model bundled by `pix2mobile bundle` (MODELS_DIR = app/src/main/assets/models, or one
      model folder): recompute each golden input from golden/photo.npy and require it bit-equal,
      check the PSNR comparison on the golden output (itself, and a perturbed copy) and the
      post-processed result against result.png. It cannot run the models: their runtimes are
      Android libraries.
The jar decodes images with javax.imageio and does not apply EXIF orientation (the app does)."""

class UsageError(
    message: String,
) : Exception(message)

fun main(args: Array<String>) {
    val code =
        try {
            run(args.toList())
        } catch (e: UsageError) {
            System.err.println("pix2mobile-core: ${e.message}")
            2
        } catch (e: FormatError) {
            System.err.println("pix2mobile-core: ${e.message}")
            2
        } catch (e: IllegalArgumentException) {
            System.err.println("pix2mobile-core: ${e.message}")
            2
        } catch (e: java.io.IOException) {
            System.err.println("pix2mobile-core: ${e.message}")
            2
        }
    exitProcess(code)
}

fun run(args: List<String>): Int {
    if (args.isEmpty() || args[0] in setOf("-h", "--help", "help")) {
        println(USAGE)
        return if (args.isEmpty()) 2 else 0
    }
    val (positional, options) = parse(args.drop(1))
    return when (args[0]) {
        "preprocess" -> preprocess(positional, options)
        "postprocess" -> postprocess(positional, options)
        "selftest" -> selftest(positional)
        else -> throw UsageError("unknown command '${args[0]}'\n$USAGE")
    }
}

private val VALUED = setOf("--format", "--precision", "--mode", "--like", "--direction")

private fun parse(args: List<String>): Pair<List<String>, Map<String, String>> {
    val positional = ArrayList<String>()
    val options = HashMap<String, String>()
    var i = 0
    while (i < args.size) {
        val a = args[i]
        if (a.startsWith("--")) {
            if (a !in VALUED) throw UsageError("unknown option $a")
            if (i + 1 >= args.size) throw UsageError("$a needs a value")
            options[a] = args[i + 1]
            i += 2
        } else {
            positional.add(a)
            i++
        }
    }
    return Pair(positional, options)
}

private fun mode(options: Map<String, String>): Mode =
    when (val m = options["--mode"] ?: "fit") {
        "fit" -> Mode.FIT

        "tile" -> Mode.TILE

        "native" -> throw UsageError(
            "--mode native runs eager PyTorch or size-flexible artifacts only; the app's artifacts take fit or tile",
        )

        else -> throw UsageError("--mode must be fit or tile, got '$m'")
    }

/** The export folder (or a CycleGAN export's direction) and its manifest. */
private fun manifestOf(
    dir: String,
    direction: String?,
): Manifest {
    var folder = File(dir)
    if (!File(folder, Manifest.NAME).isFile) {
        val d = direction ?: "a2b"
        if (File(folder, "$d/${Manifest.NAME}").isFile) {
            folder = File(folder, d)
        } else {
            throw UsageError("$dir: not an export folder (no ${Manifest.NAME}); run `pix2mobile export` first")
        }
    }
    return Manifest.parse(File(folder, Manifest.NAME).readText())
}

private fun pipelineOf(
    options: Map<String, String>,
    dir: String,
): Pipeline {
    val format = options["--format"] ?: throw UsageError("--format is required (the artifact whose layout and range to use)")
    val manifest = manifestOf(dir, options["--direction"])
    val artifact = manifest.artifact(format, options["--precision"])
    val size = artifact.imageInput?.imageSize ?: artifact.imageOutput.imageSize
    return Pipeline(artifact, size)
}

private fun preprocess(
    positional: List<String>,
    options: Map<String, String>,
): Int {
    if (positional.size != 3) throw UsageError("preprocess takes EXPORT_DIR IMAGE OUT.npy")
    val (dir, imagePath, outPath) = positional
    val pipeline = pipelineOf(options, dir)
    val image =
        pipeline.artifact.imageInput
            ?: throw UsageError(
                "the ${pipeline.artifact.key} artifact takes no photo (its inputs: ${pipeline.artifact.inputs.joinToString { it.name }})",
            )
    val photo = readImage(File(imagePath))
    val tensor =
        when (mode(options)) {
            Mode.FIT -> {
                pipeline.imageTensor(Plans.letterbox(photo, Plans.fitPlan(photo.size, image.imageSize)))
            }

            Mode.TILE -> {
                val plan = Plans.tilePlan(photo.size, image.imageSize)
                Pixels.stack(Plans.tiles(photo, plan).map { pipeline.imageTensor(it) })
            }

            Mode.NATIVE -> {
                throw UsageError("native is not offered")
            }
        }
    File(outPath).outputStream().use { Npy.write(it, tensor) }
    return 0
}

private fun postprocess(
    positional: List<String>,
    options: Map<String, String>,
): Int {
    if (positional.size != 3) throw UsageError("postprocess takes EXPORT_DIR TENSOR.npy OUT.png")
    val (dir, tensorPath, outPath) = positional
    val pipeline = pipelineOf(options, dir)
    val out = pipeline.artifact.imageOutput
    val tensor = File(tensorPath).inputStream().use { Npy.read(it).tensor() }
    val like = options["--like"]?.let { readImage(File(it)) }
    val mode = mode(options)
    val pixels =
        when {
            mode == Mode.TILE -> {
                val photo = like ?: throw UsageError("--mode tile needs --like IMAGE (the photo's size decides the tile plan)")
                val plan = Plans.tilePlan(photo.size, out.imageSize)
                val n = tensor.shape[0]
                if (n !=
                    plan.boxes.size
                ) {
                    throw UsageError("the tile plan of a ${photo.size} photo has ${plan.boxes.size} tiles; $tensorPath holds $n")
                }
                Plans.blend(plan, (0 until n).map { Pixels.slice(tensor, it) }, out.range, out.layout)
            }

            like == null || pipeline.artifact.imageInput == null -> {
                pipeline.outputPixels(tensor)
            }

            else -> {
                Plans.unletterbox(pipeline.outputPixels(tensor), Plans.fitPlan(like.size, out.imageSize))
            }
        }
    writeImage(pixels, File(outPath))
    return 0
}

/** Replays a fixed output: the jar's stand-in for a runtime it cannot run. */
private class Replay(
    private val outputs: List<FloatTensor>,
    override val label: String,
) : ModelRuntime {
    override fun run(inputs: List<FloatTensor>): List<FloatTensor> = outputs

    override fun close() {}
}

private fun selftest(positional: List<String>): Int {
    if (positional.size != 1) throw UsageError("selftest takes MODELS_DIR")
    val root = File(positional[0])
    val single = File(root, BundledModel.BUNDLE).isFile
    val base = if (single) root.absoluteFile.parentFile else root
    val files = DirSource(base)
    val problems = ArrayList<String>()
    val models = if (single) listOf(BundledModel.read(files, root.absoluteFile.name)) else BundledModel.discover(files, "", problems)
    if (models.isEmpty() &&
        problems.isEmpty()
    ) {
        throw UsageError(
            "${root.path}: no bundled model (no */${BundledModel.BUNDLE}); run `pix2mobile bundle EXPORT --android android_demo`",
        )
    }
    var checked = 0
    var failed = problems.size
    problems.forEach { println("FAILED $it") }
    var worstPixel = 0
    for (model in models) {
        for (a in model.artifacts) {
            checked++
            val lines = ArrayList<String>()
            val pre = SelfTest.checkPreprocessing(files, model, a)
            lines.addAll(pre)
            val golden = SelfTest.goldenOutputs(files, model, a)
            val self = SelfTest.check(files, model, a, Replay(golden, "golden replay"))
            if (self.error != null) lines.add("replaying the golden output: ${self.error}")
            if (self.psnrDb !=
                Psnr.CAP_DB
            ) {
                lines.add("the golden output against itself gave ${self.psnrDb} dB, not the ${Psnr.CAP_DB} dB cap")
            }
            val perturbed = golden.mapIndexed { k, t -> perturb(t, a.outputs[k].range.hi - a.outputs[k].range.lo) }
            val noisy = SelfTest.check(files, model, a, Replay(perturbed, "perturbed replay"))
            val noisyDb = noisy.psnrDb
            // finite and below the cap: the comparison sees a small difference (its size in dB depends on
            // the output's own spread, as in the parity gate)
            if (noisyDb == null || !noisyDb.isFinite() || noisyDb >= Psnr.CAP_DB) {
                lines.add("a perturbed output (1% noise) gave $noisyDb dB; expected a finite PSNR below ${Psnr.CAP_DB}")
            }
            val broken = golden.map { FloatTensor(it.shape, it.data.copyOf().also { d -> d[0] = Float.NaN }) }
            val nan = SelfTest.check(files, model, a, Replay(broken, "NaN replay"))
            if (nan.passed) lines.add("an output holding NaN passed the comparison")
            val row = model.row(a)
            val pixels = Pixels.toPixels(golden[0], row.imageOutput.range, row.imageOutput.layout)
            val photo = files.open(model.path(model.photo)).use { Npy.read(it).image() }
            val result =
                if (row.imageInput ==
                    null
                ) {
                    pixels
                } else {
                    Plans.unletterbox(pixels, Plans.fitPlan(photo.size, row.imageOutput.imageSize))
                }
            val expected = readImage(File(base, model.path(a.result)))
            val diff = if (expected.size == result.size) expected.maxDifference(result) else 256
            worstPixel = maxOf(worstPixel, diff)
            if (diff > 1) lines.add("post-processed result differs from Python's ${a.result} by up to $diff levels")
            val status = if (lines.isEmpty()) "ok    " else "FAILED"
            if (lines.isNotEmpty()) failed++
            println(
                "$status ${model.name} ${a.key}: inputs bit-equal=${pre.isEmpty()}, PSNR self %.2f dB, perturbed %.2f dB, result max diff %d"
                    .format(
                        Locale.ROOT,
                        self.psnrDb ?: Double.NaN,
                        noisyDb ?: Double.NaN,
                        diff,
                    ),
            )
            lines.forEach { println("       $it") }
        }
    }
    println(
        "selftest: $checked artifact(s) of ${models.size} model(s) checked, $failed failed; largest result pixel difference $worstPixel",
    )
    println("selftest: the models themselves were not run (their runtimes are Android libraries); the app's self-test screen runs them")
    return if (failed == 0) 0 else 1
}

/** A deterministic 1%-of-range perturbation (a runtime that is slightly off). */
private fun perturb(
    t: FloatTensor,
    span: Float,
): FloatTensor {
    val rnd = java.util.Random(0)
    return FloatTensor(t.shape, FloatArray(t.data.size) { t.data[it] + (rnd.nextGaussian() * 0.01 * span).toFloat() })
}

fun readImage(file: File): RgbImage {
    if (!file.isFile) throw UsageError("$file: no such image")
    if (file.name.endsWith(".npy")) return file.inputStream().use { Npy.read(it).image() }
    val img: BufferedImage =
        ImageIO.read(file)
            ?: throw UsageError("$file: not an image javax.imageio can read (PNG, JPEG, BMP, GIF) or an (H, W, 3) uint8 .npy")
    val argb = img.getRGB(0, 0, img.width, img.height, null, 0, img.width)
    if (img.colorModel.hasAlpha()) {
        for (k in argb.indices) argb[k] = overWhite(argb[k])
    }
    return RgbImage.fromArgb(img.width, img.height, argb)
}

/** Alpha over white, as Python's loader flattens transparent images. */
private fun overWhite(p: Int): Int {
    val a = (p ushr 24) and 0xFF
    if (a == 255) return p

    fun ch(c: Int) = (c * a + 255 * (255 - a) + 127) / 255
    return (0xFF shl 24) or (ch((p shr 16) and 0xFF) shl 16) or (ch((p shr 8) and 0xFF) shl 8) or ch(p and 0xFF)
}

fun writeImage(
    image: RgbImage,
    file: File,
) {
    if (file.name.endsWith(".npy")) {
        file.outputStream().use { Npy.write(it, image) }
        return
    }
    val img = BufferedImage(image.width, image.height, BufferedImage.TYPE_INT_RGB)
    img.setRGB(0, 0, image.width, image.height, image.toArgb(), 0, image.width)
    val format =
        file.name
            .substringAfterLast('.', "png")
            .lowercase(Locale.ROOT)
            .let { if (it == "jpg") "jpeg" else it }
    if (format != "png") throw UsageError("$file: write .png (lossless) or .npy")
    if (!ImageIO.write(img, format, file)) throw UsageError("$file: javax.imageio cannot write $format")
}
