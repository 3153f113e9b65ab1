package pix2mobile.demo

import android.content.Context
import android.content.res.AssetManager
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.ImageDecoder
import android.net.Uri
import pix2mobile.core.ArtifactCheck
import pix2mobile.core.BundledModel
import pix2mobile.core.FileSource
import pix2mobile.core.RgbImage
import pix2mobile.core.SelfTest
import pix2mobile.demo.runtime.RuntimeOptions
import pix2mobile.demo.runtime.Runtimes
import java.io.InputStream

/** The core's [FileSource] over the APK's assets. */
class AssetSource(
    private val assets: AssetManager,
) : FileSource {
    override fun open(path: String): InputStream = assets.open(path)

    override fun list(dir: String): List<String> = assets.list(dir)?.toList() ?: emptyList()
}

/**
 * The models bundled under assets/models/: found by their bundle.json, so a new export needs no
 * code change. A CycleGAN's two directions share a group and show as one entry with a switch.
 */
class Catalog(
    context: Context,
) {
    val files = AssetSource(context.assets)
    val problems = ArrayList<String>()
    val models: List<BundledModel> = BundledModel.discover(files, ROOT, problems)

    /** One entry per group, in name order; each holds its directions (one model for the others). */
    val groups: List<List<BundledModel>> = models.groupBy { it.group }.values.map { g -> g.sortedBy { it.direction ?: "" } }

    companion object {
        const val ROOT = "models"
    }
}

/** Runs the self-test over every bundled artifact: each on its golden input, its output against Python's. */
class SelfTestRunner(
    private val context: Context,
    private val catalog: Catalog = Catalog(context),
) {
    /** All checks; a catalog problem or a runtime that fails to open is a failed check too. */
    fun runAll(
        options: RuntimeOptions,
        onResult: (ArtifactCheck) -> Unit = {},
    ): List<ArtifactCheck> {
        val results = ArrayList<ArtifactCheck>()
        for (p in catalog.problems) results.add(ArtifactCheck(p.substringBefore(':'), "bundle", "-", null, 0.0, p, null).also(onResult))
        for (model in catalog.models) {
            for (artifact in model.artifacts) {
                val check =
                    try {
                        Runtimes.open(context, model, artifact, options).use { rt -> SelfTest.check(catalog.files, model, artifact, rt) }
                    } catch (e: Exception) {
                        ArtifactCheck(
                            model.name,
                            artifact.key,
                            artifact.format,
                            null,
                            SelfTest.threshold(artifact),
                            "${e.javaClass.simpleName}: ${e.message}",
                            null,
                        )
                    }
                results.add(check)
                onResult(check)
            }
        }
        return results
    }
}

/** Photo decoding: EXIF orientation applied (ImageDecoder does), alpha flattened onto white. */
object Photos {
    fun decode(
        context: Context,
        uri: Uri,
    ): RgbImage {
        val source = ImageDecoder.createSource(context.contentResolver, uri)
        val bitmap =
            ImageDecoder.decodeBitmap(source) { decoder, _, _ ->
                decoder.allocator = ImageDecoder.ALLOCATOR_SOFTWARE
            }
        return fromBitmap(bitmap)
    }

    fun fromBitmap(bitmap: Bitmap): RgbImage {
        val flat = Bitmap.createBitmap(bitmap.width, bitmap.height, Bitmap.Config.ARGB_8888)
        Canvas(flat).apply {
            drawColor(Color.WHITE)
            drawBitmap(bitmap, 0f, 0f, null)
        }
        val argb = IntArray(flat.width * flat.height)
        flat.getPixels(argb, 0, flat.width, 0, 0, flat.width, flat.height)
        return RgbImage.fromArgb(flat.width, flat.height, argb)
    }

    fun toBitmap(image: RgbImage): Bitmap = Bitmap.createBitmap(image.toArgb(), image.width, image.height, Bitmap.Config.ARGB_8888)
}
