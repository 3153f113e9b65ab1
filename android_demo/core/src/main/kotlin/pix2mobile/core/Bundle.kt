package pix2mobile.core

import java.io.FileNotFoundException
import java.io.InputStream

/**
 * Where the core reads a model folder's files from: the app's assets (`AssetManager.open`) or a
 * directory on disk (the command-line tool, the tests). Paths are relative to the models root,
 * '/'-separated.
 */
interface FileSource {
    fun open(path: String): InputStream

    /** Names directly under [dir] ("" for the root); empty when it is not a folder. */
    fun list(dir: String): List<String>

    fun readText(path: String): String = open(path).use { String(it.readBytes(), Charsets.UTF_8) }

    fun exists(path: String): Boolean =
        try {
            open(path).close()
            true
        } catch (e: FileNotFoundException) {
            false
        }
}

/** A [FileSource] over a directory. */
class DirSource(
    private val root: java.io.File,
) : FileSource {
    override fun open(path: String): InputStream {
        val f = java.io.File(root, path)
        if (!f.isFile) throw FileNotFoundException("$f: no such file")
        return f.inputStream()
    }

    override fun list(dir: String): List<String> =
        java.io
            .File(root, dir)
            .list()
            ?.sorted() ?: emptyList()
}

/** One golden tensor file of a bundled artifact. */
class GoldenTensor(
    val name: String,
    val kind: String,
    val layout: Layout,
    val range: ValueRange,
    val file: String,
)

class BundledArtifact(
    val format: String,
    val precision: String,
    val file: String,
    val thresholdDb: Double?,
    val runtime: String,
    val inputs: List<GoldenTensor>,
    val outputs: List<GoldenTensor>,
    val canvas: String?,
    val result: String,
) {
    val key: String get() = "${format}_$precision"
}

/**
 * One bundled model, `assets/models/NAME/`: bundle.json (written by `pix2mobile bundle`, schema
 * in src/pix2mobile/pipelines/bundle.py), its manifest.json and golden/. Models sharing a
 * [group] are one CycleGAN's two directions.
 */
class BundledModel(
    val dir: String,
    val name: String,
    val family: String,
    val arch: String,
    val direction: String?,
    val group: String,
    val modelSize: Size,
    val photo: String,
    val artifacts: List<BundledArtifact>,
    val manifest: Manifest,
) {
    fun path(file: String) = if (dir.isEmpty()) file else "$dir/$file"

    /** The manifest row of a bundled artifact. */
    fun row(a: BundledArtifact): ArtifactInfo = manifest.artifact(a.format, a.precision)

    val title: String get() = if (direction != null) "$group ($direction)" else name

    companion object {
        const val BUNDLE = "bundle.json"
        const val SCHEMA_MAJOR = 1

        fun read(
            files: FileSource,
            dir: String,
        ): BundledModel {
            val where = if (dir.isEmpty()) BUNDLE else "$dir/$BUNDLE"
            val root = JsonObject.parse(files.readText(where), where)
            val major = root.intOrNull("schema_version")
            if (major != SCHEMA_MAJOR) throw FormatError("$where: schema_version $major is not supported (this app reads $SCHEMA_MAJOR)")
            val manifestPath = if (dir.isEmpty()) Manifest.NAME else "$dir/${Manifest.NAME}"
            val manifest = Manifest.parse(files.readText(manifestPath))
            val size = root.ints("model_size")

            fun tensors(
                a: JsonObject,
                key: String,
            ) = a.objects(key).map { t ->
                val r = t.doubles("range")
                GoldenTensor(
                    t.string("name"),
                    t.stringOrNull("kind") ?: "image",
                    Layout.of(t.string("layout")),
                    ValueRange(r[0].toFloat(), r[1].toFloat()),
                    t.string("file"),
                )
            }
            val artifacts =
                root.objects("artifacts").map { a ->
                    BundledArtifact(
                        format = a.string("format"),
                        precision = a.string("precision"),
                        file = a.string("file"),
                        thresholdDb = a.doubleOrNull("threshold_db"),
                        runtime = a.stringOrNull("runtime") ?: "",
                        inputs = tensors(a, "inputs"),
                        outputs = tensors(a, "outputs"),
                        canvas = a.stringOrNull("canvas"),
                        result = a.string("result"),
                    )
                }
            return BundledModel(
                dir = dir,
                name = root.string("name"),
                family = root.string("family"),
                arch = root.string("arch"),
                direction = root.stringOrNull("direction"),
                group = root.stringOrNull("group") ?: root.string("name"),
                modelSize = Size(size[0], size[1]),
                photo = root.string("photo"),
                artifacts = artifacts,
                manifest = manifest,
            )
        }

        /**
         * Every model under [root] (each folder holding a bundle.json), sorted by name: the app's
         * model list, so a new bundle needs no code change. A folder that fails to read is
         * reported in [problems], not skipped silently.
         */
        fun discover(
            files: FileSource,
            root: String,
            problems: MutableList<String>? = null,
        ): List<BundledModel> =
            files.list(root).sorted().mapNotNull { name ->
                val dir = if (root.isEmpty()) name else "$root/$name"
                if (!files.exists("$dir/$BUNDLE")) return@mapNotNull null
                try {
                    read(files, dir)
                } catch (e: Exception) {
                    problems?.add("$dir: ${e.message}")
                    null
                }
            }
    }
}
