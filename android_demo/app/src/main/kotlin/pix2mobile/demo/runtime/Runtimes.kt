package pix2mobile.demo.runtime

import android.content.Context
import pix2mobile.core.ArtifactInfo
import pix2mobile.core.BundledArtifact
import pix2mobile.core.BundledModel
import pix2mobile.core.FormatError
import pix2mobile.core.ModelRuntime
import java.io.File

/** How to run: CPU threads (LiteRT/XNNPACK and PyTorch Lite) or LiteRT's GPU delegate. */
data class RuntimeOptions(
    val threads: Int = 4,
    val gpu: Boolean = false,
) {
    init {
        require(threads in 1..8) { "threads must be 1..8, got $threads" }
    }
}

/** Opens an artifact's file with the runtime of its format. */
fun interface RuntimeFactory {
    fun open(
        file: File,
        row: ArtifactInfo,
        options: RuntimeOptions,
    ): ModelRuntime
}

/**
 * One runtime adapter per format, keyed by the manifest's `format` (never by position). A format
 * missing here is one `pix2mobile bundle` refuses for Android.
 */
object Runtimes {
    val BY_FORMAT: Map<String, RuntimeFactory> =
        mapOf(
            "tflite" to RuntimeFactory { f, row, o -> LiteRtRuntime(f, row, o) },
            "pte" to RuntimeFactory { f, row, o -> ExecuTorchRuntime(f, row, o) },
            "ptl" to RuntimeFactory { f, row, o -> PyTorchLiteRuntime(f, row, o) },
        )

    /** Whether the GPU option applies to this format on this device. */
    fun gpuAvailable(format: String): Boolean = format == "tflite" && LiteRtRuntime.gpuSupported()

    fun open(
        context: Context,
        model: BundledModel,
        artifact: BundledArtifact,
        options: RuntimeOptions,
    ): ModelRuntime {
        val factory =
            BY_FORMAT[artifact.format]
                ?: throw FormatError("this app has no runtime for .${artifact.format} (it runs ${BY_FORMAT.keys.joinToString()})")
        if (options.gpu &&
            !gpuAvailable(artifact.format)
        ) {
            throw FormatError("the GPU option applies to .tflite on a device LiteRT's compatibility list accepts")
        }
        val file = AssetFiles.materialize(context, model.path(artifact.file))
        return factory.open(file, model.row(artifact), options)
    }
}

/**
 * ExecuTorch and PyTorch Lite load from a file path, not from the APK: assets are copied to the
 * app's files once (again when the size changes, i.e. after a new bundle).
 */
object AssetFiles {
    fun materialize(
        context: Context,
        assetPath: String,
    ): File {
        val target = File(context.filesDir, assetPath)
        val size = context.assets.openFd(assetPath).use { it.length }
        if (target.isFile && target.length() == size) return target
        target.parentFile?.mkdirs()
        val tmp = File(target.parentFile, ".${target.name}.tmp")
        context.assets.open(assetPath).use { input -> tmp.outputStream().use { input.copyTo(it) } }
        if (!tmp.renameTo(target)) throw java.io.IOException("could not move $tmp to $target")
        return target
    }
}
