package pix2mobile.core

/**
 * `manifest.json` as written by `pix2mobile export` (src/pix2mobile/manifest.py): the only thing
 * the app reads to know how to feed an artifact and read its output. Major schema version 1.
 */
class TensorInfo(
    val name: String,
    val shape: IntArray,
    val layout: Layout,
    val range: ValueRange,
) {
    /** image (NCHW/NHWC), latent (NC) or scalar (N): the kind follows from the layout, as in Python. */
    val kind: Kind get() =
        if (layout.isImage) {
            Kind.IMAGE
        } else if (layout == Layout.NC) {
            Kind.LATENT
        } else {
            Kind.SCALAR
        }

    /** (H, W) of an image tensor. */
    val imageSize: Size
        get() =
            when (layout) {
                Layout.NCHW -> Size(shape[2], shape[3])
                Layout.NHWC -> Size(shape[1], shape[2])
                else -> throw FormatError("$name ($layout) is not an image")
            }

    val count: Int get() = shape.fold(1) { a, b -> a * b }

    enum class Kind { IMAGE, LATENT, SCALAR }

    companion object {
        fun from(o: JsonObject): TensorInfo {
            val r = o.doubles("range")
            if (r.size != 2 || !(r[1] > r[0])) throw FormatError("tensor ${o.string("name")}: range must be [lo, hi] with lo < hi")
            return TensorInfo(o.string("name"), o.ints("shape"), Layout.of(o.string("layout")), ValueRange(r[0].toFloat(), r[1].toFloat()))
        }
    }
}

class ArtifactInfo(
    val format: String,
    val precision: String,
    val ok: Boolean,
    val file: String?,
    val inputs: List<TensorInfo>,
    val outputs: List<TensorInfo>,
    val thresholdDb: Double?,
    val psnrDb: Double?,
    val shapesKind: String,
) {
    val key: String get() = "${format}_$precision"

    /** The image input, or null (the morph takes only a scalar). */
    val imageInput: TensorInfo? get() = inputs.firstOrNull { it.kind == TensorInfo.Kind.IMAGE }

    /** The first output: every generator here returns one image. */
    val imageOutput: TensorInfo
        get() = outputs.firstOrNull()?.takeIf { it.layout.isImage } ?: throw FormatError("$key: its first output is not an image")
}

class ModelInfo(
    val family: String,
    val arch: String,
    val size: Size?,
    val direction: String?,
    val sizeMultiple: Int,
    val minSize: Int,
)

class Manifest(
    val model: ModelInfo,
    val artifacts: List<ArtifactInfo>,
) {
    /** The passing artifact of [format] (and [precision] when given); a one-line error otherwise. */
    fun artifact(
        format: String,
        precision: String? = null,
    ): ArtifactInfo {
        val rows = artifacts.filter { it.ok && it.format == format && (precision == null || it.precision == precision) }
        if (rows.isEmpty()) {
            val have = artifacts.filter { it.ok }.joinToString(", ") { "${it.format} ${it.precision}" }.ifEmpty { "none" }
            throw FormatError("the manifest has no passing $format${precision?.let { " $it" } ?: ""} artifact (it has: $have)")
        }
        return rows[0]
    }

    companion object {
        const val NAME = "manifest.json"
        const val SCHEMA_MAJOR = 1

        fun parse(text: String): Manifest {
            val root = JsonObject.parse(text, NAME)
            val version = root.raw("schema_version") ?: throw FormatError("not a pix2mobile manifest (no schema_version)")
            val major =
                version
                    .toString()
                    .split(".")[0]
                    .toDoubleOrNull()
                    ?.toInt()
            if (major != SCHEMA_MAJOR) {
                throw FormatError(
                    "manifest schema_version $version is not supported (this app reads major version $SCHEMA_MAJOR); re-export or update the app",
                )
            }
            val m = root.obj("model")
            val size = if (m.has("size")) m.ints("size").let { Size(it[0], it[1]) } else null
            val model =
                ModelInfo(
                    family = m.string("family"),
                    arch = m.string("arch"),
                    size = size,
                    direction = m.stringOrNull("direction"),
                    sizeMultiple = m.intOrNull("size_multiple") ?: 1,
                    minSize = m.intOrNull("min_size") ?: 1,
                )
            val artifacts =
                root.objects("artifacts").map { a ->
                    val parity = a.objOrNull("parity")
                    ArtifactInfo(
                        format = a.string("format"),
                        precision = a.string("precision"),
                        ok = a.string("status") == "ok",
                        file = a.stringOrNull("file"),
                        inputs = a.objects("inputs").map(TensorInfo::from),
                        outputs = a.objects("outputs").map(TensorInfo::from),
                        thresholdDb = parity?.doubleOrNull("threshold_db"),
                        psnrDb = parity?.doubleOrNull("psnr_db"),
                        shapesKind = a.objOrNull("shapes")?.stringOrNull("kind") ?: "fixed",
                    )
                }
            return Manifest(model, artifacts)
        }
    }
}
