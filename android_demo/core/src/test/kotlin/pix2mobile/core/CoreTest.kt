package pix2mobile.core

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.ByteArrayOutputStream
import java.io.File
import java.nio.file.Files
import java.util.Random

/** Manifests of every family, .npy and JSON, the pipeline around a fake runtime, latency, PSNR and the self-test. */
class CoreTest {
    private fun tensorJson(
        name: String,
        shape: String,
        layout: String,
        range: String,
    ) = """{"name": "$name", "shape": $shape, "layout": "$layout", "dtype": "float32", "range": $range}"""

    /** A manifest as `pix2mobile export` writes it (fields the core reads, plus some it ignores). */
    private fun manifest(
        family: String,
        inputs: List<String>,
        outputs: List<String>,
        format: String = "tflite",
        direction: String? = null,
    ) = """{"schema_version": 1, "pix2mobile_version": "0.1.0", "created_at": "2026-01-01T00:00:00+00:00", "ok": true,
        "model": {"family": "$family", "arch": "x", "options": {}, "size": [64, 64], "macs": 1, "params": 1,
                  "checkpoint_sha256": null, "checkpoint": null, "direction": ${direction?.let { "\"$it\"" } ?: "null"},
                  "size_multiple": 4, "min_size": 32},
        "io": {}, "parity_images": [],
        "artifacts": [{"format": "$format", "precision": "fp32", "file": "m.$format", "bytes": 10, "sha256": "x",
                       "status": "ok", "reason": null, "inputs": [${inputs.joinToString()}], "outputs": [${outputs.joinToString()}],
                       "parity": {"psnr_db": 60.5, "threshold_db": 45.0}, "converter": {}, "notes": [],
                       "shapes": {"kind": "fixed", "sizes": [], "min": null, "max": null, "multiple": null, "note": null}},
                      {"format": "pte", "precision": "int8", "file": null, "status": "failed", "reason": "no", "inputs": [], "outputs": []}]}"""

    private val styleNhwc =
        manifest(
            "fast_style",
            listOf(tensorJson("image", "[1, 64, 64, 3]", "NHWC", "[0.0, 255.0]")),
            listOf(tensorJson("stylized", "[1, 64, 64, 3]", "NHWC", "[0.0, 255.0]")),
        )
    private val cycleNchw =
        manifest(
            "cyclegan",
            listOf(tensorJson("image", "[1, 3, 64, 64]", "NCHW", "[-1.0, 1.0]")),
            listOf(tensorJson("fake", "[1, 3, 64, 64]", "NCHW", "[-1.0, 1.0]")),
            "ptl",
            "b2a",
        )
    private val bicycle =
        manifest(
            "bicyclegan",
            listOf(tensorJson("image", "[1, 3, 64, 64]", "NCHW", "[-1.0, 1.0]"), tensorJson("z", "[1, 8]", "NC", "[-3.0, 3.0]")),
            listOf(tensorJson("fake", "[1, 3, 64, 64]", "NCHW", "[-1.0, 1.0]")),
            "pte",
        )
    private val morph =
        manifest(
            "morph",
            listOf(tensorJson("alpha", "[1]", "N", "[0.0, 1.0]")),
            listOf(tensorJson("image", "[1, 64, 64, 3]", "NHWC", "[0.0, 1.0]")),
        )

    /** A runtime that returns its image input mapped onto the output range (a "perfect" identity generator). */
    private class Identity(
        val artifact: ArtifactInfo,
    ) : ModelRuntime {
        var calls = 0
        override val label = "identity"

        override fun run(inputs: List<FloatTensor>): List<FloatTensor> {
            calls++
            val image = artifact.inputs.indexOfFirst { it.kind == TensorInfo.Kind.IMAGE }
            val out = artifact.imageOutput
            if (image < 0) return listOf(FloatTensor(out.shape, FloatArray(out.count) { inputs[0].data[0] }))
            val inR = artifact.inputs[image].range
            val x = inputs[image]
            return listOf(
                FloatTensor(
                    out.shape,
                    FloatArray(x.data.size) {
                        (x.data[it] - inR.lo) / (inR.hi - inR.lo) *
                            (out.range.hi - out.range.lo) +
                            out.range.lo
                    },
                ),
            )
        }

        override fun close() {}
    }

    private fun photo(
        h: Int,
        w: Int,
    ): RgbImage {
        val rnd = Random(1)
        val img = RgbImage(h, w)
        for (y in 0 until h) {
            for (x in 0 until w) {
                for (c in 0 until 3) {
                    img.data[(y * w + x) * 3 + c] =
                        ((x * 3 + y * 2 + c * 40 + rnd.nextInt(5)) % 256).toByte()
                }
            }
        }
        return img
    }

    @Test
    fun `manifests of every family read, with kinds from the layouts`() {
        val s = Manifest.parse(styleNhwc)
        assertEquals("fast_style", s.model.family)
        assertEquals(Size(64, 64), s.model.size)
        assertEquals(4, s.model.sizeMultiple)
        val a = s.artifact("tflite")
        assertEquals(Layout.NHWC, a.imageInput!!.layout)
        assertEquals(Size(64, 64), a.imageInput!!.imageSize)
        assertEquals(45.0, a.thresholdDb)
        assertEquals("b2a", Manifest.parse(cycleNchw).model.direction)
        val b = Manifest.parse(bicycle).artifact("pte")
        assertEquals(listOf(TensorInfo.Kind.IMAGE, TensorInfo.Kind.LATENT), b.inputs.map { it.kind })
        val m = Manifest.parse(morph).artifact("tflite")
        assertNull(m.imageInput)
        assertEquals(TensorInfo.Kind.SCALAR, m.inputs[0].kind)
        val e = assertThrows(FormatError::class.java) { Manifest.parse(styleNhwc).artifact("pte") }
        assertTrue(e.message!!.contains("tflite fp32"), e.message)
        assertThrows(FormatError::class.java) { Manifest.parse(styleNhwc.replace("\"schema_version\": 1", "\"schema_version\": 2")) }
        assertThrows(FormatError::class.java) { Manifest.parse("{\"schema_version\": 1, ") }
    }

    @Test
    fun `json reads what Python writes`() {
        val v = Json.parse("""{"a": [1, -2.5e-3, 0.1], "b": "x\"\\\u00e9\n", "c": null, "d": true, "e": {}}""") as Map<*, *>
        assertEquals(listOf(1.0, -0.0025, 0.1), v["a"])
        assertEquals("x\"\\\u00e9\n", v["b"])
        assertTrue(v.containsKey("c") && v["c"] == null)
        assertEquals(true, v["d"])
        assertThrows(FormatError::class.java) { Json.parse("[1, 2") }
        assertThrows(FormatError::class.java) { Json.parse("{} x") }
    }

    @Test
    fun `npy round trips float32 and uint8 and rejects what it cannot read`() {
        val t = FloatTensor(intArrayOf(1, 2, 3), floatArrayOf(0f, -1.5f, Float.NaN, Float.POSITIVE_INFINITY, 3e-39f, 1f))
        val back = Npy.read(Npy.bytes(t)).tensor()
        assertArrayEquals(t.shape, back.shape)
        for (k in t.data.indices) {
            assertEquals(
                java.lang.Float.floatToRawIntBits(t.data[k]),
                java.lang.Float.floatToRawIntBits(back.data[k]),
            )
        }
        val img = photo(5, 7)
        val bytes = ByteArrayOutputStream().also { Npy.write(it, img) }.toByteArray()
        assertEquals(0, (bytes.size - img.data.size) % 64, "header padded to 64 bytes")
        assertTrue(img.contentEquals(Npy.read(bytes).image()))
        assertThrows(FormatError::class.java) { Npy.read(bytes).tensor() }
        assertThrows(FormatError::class.java) { Npy.read("not an npy".toByteArray()) }
        val oneD = Npy.read(Npy.bytes(FloatTensor(intArrayOf(1), floatArrayOf(0.375f))))
        assertArrayEquals(intArrayOf(1), oneD.shape)
    }

    @Test
    fun `argb packing drops alpha and round trips`() {
        val img = RgbImage.fromArgb(2, 1, intArrayOf(0x80FF0010.toInt(), 0xFF010203.toInt()))
        assertEquals(255, img[0, 0, 0])
        assertEquals(16, img[0, 0, 2])
        assertArrayEquals(intArrayOf(0xFFFF0010.toInt(), 0xFF010203.toInt()), img.toArgb())
    }

    @Test
    fun `fit through an identity runtime gives the photo back, NHWC and NCHW alike`() {
        val p = photo(50, 67)
        for (text in listOf(styleNhwc, cycleNchw)) {
            val a = Manifest.parse(text).artifacts[0]
            val rt = Identity(a)
            val out = Pipeline(a, Size(64, 64)).apply(rt, p, Mode.FIT)
            assertEquals(p.size, out.image.size)
            assertEquals(1, rt.calls)
            // shrinking to the model's size and back loses detail, not colour: the mean stays
            val mean = { i: RgbImage -> i.data.sumOf { it.toInt() and 0xFF }.toDouble() / i.data.size }
            assertTrue(Math.abs(mean(p) - mean(out.image)) < 2.0, "mean ${mean(p)} vs ${mean(out.image)}")
            assertTrue(out.timings.inferenceMs >= 0 && out.timings.preMs >= 0 && out.timings.postMs >= 0)
        }
    }

    @Test
    fun `tile through an identity runtime gives the photo back exactly`() {
        val p = photo(150, 111)
        val a = Manifest.parse(styleNhwc).artifacts[0]
        val rt = Identity(a)
        val out = Pipeline(a, Size(64, 64)).apply(rt, p, Mode.TILE)
        assertEquals(Plans.tilePlan(p.size, Size(64, 64)).boxes.size, rt.calls)
        assertEquals(0, p.maxDifference(out.image), "[0, 255] identity tiles blend back to the same pixels")
    }

    @Test
    fun `bicyclegan needs z and the morph alpha`() {
        val b = Manifest.parse(bicycle).artifact("pte")
        val pipe = Pipeline(b, Size(64, 64))
        assertThrows(FormatError::class.java) { pipe.apply(Identity(b), photo(40, 40)) }
        val z = Latents.draw(pipe.latent!!, Random(0))
        assertArrayEquals(intArrayOf(1, 8), z.shape)
        assertTrue(z.data.all { it in -3f..3f })
        assertEquals(Size(40, 40), pipe.apply(Identity(b), photo(40, 40), Mode.FIT, z = z).image.size)
        val m = Manifest.parse(morph).artifacts[0]
        val mp = Pipeline(m, Size(64, 64))
        assertFalse(mp.takesPhoto)
        assertThrows(FormatError::class.java) { mp.apply(Identity(m), null) }
        val out = mp.apply(Identity(m), null, alpha = 0.5f)
        assertEquals(Size(64, 64), out.image.size)
        assertEquals(128, out.image[3, 3, 1])
    }

    @Test
    fun `a runtime returning the wrong shape is an error, not a picture`() {
        val a = Manifest.parse(cycleNchw).artifacts[0]
        val bad =
            object : ModelRuntime {
                override val label = "bad"

                override fun run(inputs: List<FloatTensor>) = listOf(FloatTensor(intArrayOf(1, 64, 64, 3), FloatArray(64 * 64 * 3)))

                override fun close() {}
            }
        assertThrows(RuntimeFailure::class.java) { Pipeline(a, Size(64, 64)).apply(bad, photo(30, 30)) }
    }

    @Test
    fun `latency statistics leave warm-up out, nearest-rank median and p90`() {
        val s = LatencyStats(3, listOf(5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 6.0, 7.0, 8.0, 9.0))
        assertEquals(10, s.runs)
        assertEquals(5.0, s.medianMs)
        assertEquals(9.0, s.p90Ms)
        assertEquals(1.0, s.minMs)
        assertEquals(5.5, s.meanMs)
        var n = 0
        val m = LatencyStats.measure(2, 5) { n++ }
        assertEquals(7, n)
        assertEquals(5, m.runs)
        assertEquals(2, m.warmup)
        assertThrows(IllegalArgumentException::class.java) { LatencyStats(0, emptyList()) }
    }

    @Test
    fun `psnr matches the parity gate's definition`() {
        val r = ValueRange(-1f, 1f)
        val a = FloatTensor(intArrayOf(1, 4), floatArrayOf(-1f, 0f, 0.5f, 1f))
        assertEquals(Psnr.CAP_DB, Psnr.psnr(a, a, r))
        // unit-scaled difference 0.05 everywhere: 10 log10(1 / 0.0025) = 26.0206 dB
        val b = FloatTensor(intArrayOf(1, 4), floatArrayOf(-0.9f, 0.1f, 0.6f, 0.9f))
        assertEquals(26.0206, Psnr.psnr(a, b, r), 1e-3)
        assertEquals(Double.NEGATIVE_INFINITY, Psnr.psnr(a, FloatTensor(intArrayOf(1, 4), floatArrayOf(0f, Float.NaN, 0f, 0f)), r))
        // values beyond the range clip, as on screen
        assertEquals(Psnr.CAP_DB, Psnr.psnr(a, FloatTensor(intArrayOf(1, 4), floatArrayOf(-2f, 0f, 0.5f, 3f)), r))
        assertThrows(RuntimeFailure::class.java) { Psnr.psnr(a, FloatTensor(intArrayOf(4), a.data), r) }
    }

    @Test
    fun `self-test on a bundle written here, golden replay passes and a failing runtime is red`() {
        val root = Files.createTempDirectory("p2m-bundle").toFile()
        try {
            val dir = File(root, "style").also { it.mkdirs() }
            File(dir, "manifest.json").writeText(styleNhwc)
            val p = photo(50, 67)
            File(dir, "golden/tflite_fp32").mkdirs()
            File(dir, "golden/photo.npy").outputStream().use { Npy.write(it, p) }
            val a = Manifest.parse(styleNhwc).artifacts[0]
            val canvas = Plans.letterbox(p, Plans.fitPlan(p.size, Size(64, 64)))
            File(dir, "golden/tflite_fp32/canvas.npy").outputStream().use { Npy.write(it, canvas) }
            val x = Pixels.toTensor(canvas, ValueRange(0f, 255f), Layout.NHWC)
            File(dir, "golden/tflite_fp32/image.npy").outputStream().use { Npy.write(it, x) }
            val y = Identity(a).run(listOf(x))[0]
            File(dir, "golden/tflite_fp32/stylized.out.npy").outputStream().use { Npy.write(it, y) }
            File(dir, "bundle.json").writeText(
                """{"schema_version": 1, "name": "style", "family": "fast_style", "arch": "x", "direction": null, "group": "style",
                   "model_size": [64, 64], "photo": "golden/photo.npy", "plan": null,
                   "artifacts": [{"format": "tflite", "precision": "fp32", "file": "m.tflite", "threshold_db": 45.0, "runtime": "LiteRT",
                     "inputs": [{"name": "image", "kind": "image", "layout": "NHWC", "range": [0.0, 255.0], "file": "golden/tflite_fp32/image.npy"}],
                     "outputs": [{"name": "stylized", "layout": "NHWC", "range": [0.0, 255.0], "file": "golden/tflite_fp32/stylized.out.npy"}],
                     "canvas": "golden/tflite_fp32/canvas.npy", "result": "golden/tflite_fp32/result.png"}]}""",
            )
            File(root, "not-a-model").mkdirs()
            val files = DirSource(root)
            val models = BundledModel.discover(files, "")
            assertEquals(listOf("style"), models.map { it.name })
            val m = models[0]
            val art = m.artifacts[0]
            assertEquals(emptyList<String>(), SelfTest.checkPreprocessing(files, m, art))
            val good = SelfTest.check(files, m, art, Identity(a))
            assertTrue(good.passed, good.describe())
            assertEquals(Psnr.CAP_DB, good.psnrDb)
            val failing =
                object : ModelRuntime {
                    override val label = "failing"

                    override fun run(inputs: List<FloatTensor>): List<FloatTensor> = throw IllegalStateException("could not load the model")

                    override fun close() {}
                }
            val bad = SelfTest.check(files, m, art, failing)
            assertFalse(bad.passed)
            assertNotNull(bad.error)
            assertTrue(bad.describe().contains("could not load the model"), bad.describe())
            val empty =
                object : ModelRuntime {
                    override val label = "empty"

                    override fun run(inputs: List<FloatTensor>) = emptyList<FloatTensor>()

                    override fun close() {}
                }
            assertFalse(SelfTest.check(files, m, art, empty).passed)
            // a golden input the core does not reproduce is reported
            val shifted = FloatTensor(x.shape, x.data.copyOf().also { it[5] = it[5] + 1f })
            File(dir, "golden/tflite_fp32/image.npy").outputStream().use { Npy.write(it, shifted) }
            val pre = SelfTest.checkPreprocessing(files, m, art)
            assertEquals(1, pre.size, pre.toString())
            assertFalse(SelfTest.check(files, m, art, Identity(a)).passed)
            val problems = ArrayList<String>()
            File(root, "broken").mkdirs()
            File(root, "broken/bundle.json").writeText("{")
            assertEquals(1, BundledModel.discover(files, "", problems).size)
            assertEquals(1, problems.size)
        } finally {
            root.deleteRecursively()
        }
    }
}
