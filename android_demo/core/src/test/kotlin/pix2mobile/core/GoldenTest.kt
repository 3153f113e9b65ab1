package pix2mobile.core

import org.junit.jupiter.api.Assertions.assertArrayEquals
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import java.io.File

/**
 * The core reproduces the committed golden vectors of docs/preprocessing.md (tests/golden/),
 * the same files tests/apply/test_golden.py holds Python to: tensors bit-equal from 8-bit
 * pixels, pixels equal, plans equal, results within 1 level (and the largest difference seen is
 * printed; it is expected to be 0).
 */
class GoldenTest {
    private fun load(vararg parts: String): Npy.NpyArray = File(Golden.dir, parts.joinToString("/")).inputStream().use { Npy.read(it) }

    private fun case(vararg parts: String): JsonObject {
        val f = File(Golden.dir, (parts.toList() + "case.json").joinToString("/"))
        return JsonObject.parse(f.readText(), f.path)
    }

    private fun range(o: JsonObject): ValueRange = o.doubles("range").let { ValueRange(it[0].toFloat(), it[1].toFloat()) }

    private fun assertBitsEqual(
        expected: FloatTensor,
        actual: FloatTensor,
        what: String,
    ) {
        assertArrayEquals(expected.shape, actual.shape, "$what: shape")
        var differ = 0
        for (k in expected.data.indices) {
            if (java.lang.Float.floatToRawIntBits(expected.data[k]) != java.lang.Float.floatToRawIntBits(actual.data[k])) differ++
        }
        assertEquals(0, differ, "$what: $differ of ${expected.data.size} values differ in their bits")
    }

    private fun assertImagesEqual(
        expected: RgbImage,
        actual: RgbImage,
        what: String,
    ) {
        assertEquals(expected.size, actual.size, "$what: size")
        assertEquals(0, expected.maxDifference(actual), "$what: pixels differ")
    }

    private fun assertWithinOneLevel(
        expected: RgbImage,
        actual: RgbImage,
        what: String,
    ) {
        assertEquals(expected.size, actual.size, "$what: size")
        val d = expected.maxDifference(actual)
        Golden.maxResultDifference = maxOf(Golden.maxResultDifference, d)
        assertTrue(d <= 1, "$what: differs by $d levels")
    }

    private fun plan(o: JsonObject) = FitPlanJson(o.ints("photo"), o.ints("model"), o.int("h"), o.int("w"), o.int("top"), o.int("left"))

    private data class FitPlanJson(
        val photo: List<Int>,
        val model: List<Int>,
        val h: Int,
        val w: Int,
        val top: Int,
        val left: Int,
    ) {
        constructor(
            photo: IntArray,
            model: IntArray,
            h: Int,
            w: Int,
            top: Int,
            left: Int,
        ) : this(photo.toList(), model.toList(), h, w, top, left)
        constructor(
            p: FitPlan,
        ) : this(listOf(p.photo.height, p.photo.width), listOf(p.model.height, p.model.width), p.h, p.w, p.top, p.left)
    }

    @Test
    fun `the photo is the documented real crop`() {
        val photo = load("photo.npy").image()
        assertEquals(Size(250, 333), photo.size)
        val mean = photo.data.sumOf { it.toInt() and 0xFF } / photo.data.size.toDouble()
        val sd = Math.sqrt(photo.data.sumOf { ((it.toInt() and 0xFF) - mean).let { d -> d * d } } / photo.data.size)
        assertTrue(sd > 20, "a photograph, not a flat test card (std $sd)")
    }

    private fun fitCase(family: String) {
        val c = case(family)
        val photo = load("photo.npy").image()
        val model = c.ints("model").let { Size(it[0], it[1]) }
        val fit = Plans.fitPlan(photo.size, model)
        assertEquals(plan(c.obj("plan")), FitPlanJson(fit), "$family: fit plan")
        val canvas = Plans.letterbox(photo, fit)
        assertImagesEqual(load(family, "canvas.npy").image(), canvas, "$family canvas")
        val inRange = range(c.obj("io").objects("inputs")[0])
        assertBitsEqual(load(family, "input_nchw.npy").tensor(), Pixels.toTensor(canvas, inRange, Layout.NCHW), "$family input NCHW")
        assertBitsEqual(load(family, "input_nhwc.npy").tensor(), Pixels.toTensor(canvas, inRange, Layout.NHWC), "$family input NHWC")
        val outRange = range(c.obj("io").objects("outputs")[0])
        val pixels = Pixels.toPixels(load(family, "output_nchw.npy").tensor(), outRange, Layout.NCHW)
        assertImagesEqual(load(family, "output_pixels.npy").image(), pixels, "$family output pixels")
        assertImagesEqual(
            pixels,
            Pixels.toPixels(load(family, "output_nhwc.npy").tensor(), outRange, Layout.NHWC),
            "$family NHWC output pixels",
        )
        val result = Plans.unletterbox(pixels, fit)
        assertEquals(photo.size, result.size)
        assertWithinOneLevel(load(family, "result.npy").image(), result, "$family result")
    }

    @Test
    fun `fit case fast_style`() = fitCase("fast_style")

    @Test
    fun `fit case cyclegan`() = fitCase("cyclegan")

    @Test
    fun `fit case bicyclegan`() = fitCase("bicyclegan")

    @Test
    fun `morph case`() {
        val c = case("morph")
        assertEquals(c.double("alpha").toFloat(), load("morph", "alpha.npy").tensor().data.single())
        val outRange = range(c.obj("io").objects("outputs")[0])
        val pixels = Pixels.toPixels(load("morph", "output_nchw.npy").tensor(), outRange, Layout.NCHW)
        assertImagesEqual(load("morph", "output_pixels.npy").image(), pixels, "morph pixels")
        assertWithinOneLevel(load("morph", "result.npy").image(), pixels, "morph result")
    }

    @Test
    fun `native case`() {
        val c = case("native")
        val photo = load("native", "photo.npy").image()
        val size = Plans.nativeSize(photo.size, c.int("multiple"), c.int("minimum"))
        assertEquals(c.ints("padded").let { Size(it[0], it[1]) }, size)
        assertNotEquals(photo.size, size, "the case does pad")
        val canvas = Plans.padEdge(photo, size)
        assertImagesEqual(load("native", "canvas.npy").image(), canvas, "native canvas")
        assertBitsEqual(
            load("native", "input_nchw.npy").tensor(),
            Pixels.toTensor(canvas, range(c.obj("io").objects("inputs")[0]), Layout.NCHW),
            "native input",
        )
        val out = Pixels.toPixels(load("native", "output_nchw.npy").tensor(), range(c.obj("io").objects("outputs")[0]), Layout.NCHW)
        assertWithinOneLevel(load("native", "result.npy").image(), Plans.crop(out, 0, 0, photo.size), "native result")
    }

    private fun assertPlanEquals(
        expected: JsonObject,
        plan: TilePlan,
    ) {
        assertArrayEquals(expected.ints("photo"), intArrayOf(plan.photo.height, plan.photo.width), "photo")
        assertArrayEquals(expected.ints("tile"), intArrayOf(plan.tile.height, plan.tile.width), "tile")
        assertArrayEquals(expected.ints("overlap"), intArrayOf(plan.overlap.height, plan.overlap.width), "overlap")
        assertArrayEquals(expected.ints("padded"), intArrayOf(plan.padded.height, plan.padded.width), "padded")
        assertArrayEquals(expected.ints("ys"), plan.ys, "ys")
        assertArrayEquals(expected.ints("xs"), plan.xs, "xs")
        assertArrayEquals(expected.doubles("wy"), plan.wy, 1e-15, "wy")
        assertArrayEquals(expected.doubles("wx"), plan.wx, 1e-15, "wx")
    }

    @Test
    fun `tile case`() {
        val c = case("tile")
        val photo = load("tile", "photo.npy").image()
        val p = c.obj("plan")
        val plan = Plans.tilePlan(photo.size, p.ints("tile").let { Size(it[0], it[1]) }, p.ints("overlap").let { Size(it[0], it[1]) })
        assertPlanEquals(p, plan)
        assertEquals(6, plan.boxes.size)
        assertEquals(photo.size, plan.padded)
        val tiles = Plans.tiles(photo, plan)
        val golden = load("tile", "tile_pixels.npy")
        val per = 64 * 64 * 3
        tiles.forEachIndexed { k, t ->
            val g = RgbImage(64, 64, golden.bytes!!.copyOfRange(k * per, (k + 1) * per))
            assertImagesEqual(g, t, "tile $k pixels")
        }
        val outputs = load("tile", "tile_outputs_nchw.npy").tensor()
        val outRange = range(c.obj("io").objects("outputs")[0])
        val result = Plans.blend(plan, (0 until outputs.shape[0]).map { Pixels.slice(outputs, it) }, outRange, Layout.NCHW)
        assertWithinOneLevel(load("tile", "result.npy").image(), result, "tile result")
        // the same blend from NHWC outputs (what a .tflite returns) gives the same pixels
        val nhwc = (0 until outputs.shape[0]).map { Pixels.transpose(Pixels.slice(outputs, it), Layout.NCHW) }
        assertImagesEqual(result, Plans.blend(plan, nhwc, outRange, Layout.NHWC), "tile result from NHWC")
    }

    @Test
    fun `large tile plan`() {
        val f = File(Golden.dir, "tile/plan_large.json")
        val big = JsonObject.parse(f.readText(), f.path)
        val plan = Plans.tilePlan(big.ints("photo").let { Size(it[0], it[1]) }, big.ints("tile").let { Size(it[0], it[1]) })
        assertPlanEquals(big.obj("plan"), plan)
        assertEquals(0, plan.ys.first())
        assertEquals(3024 - 256, plan.ys.last())
        assertEquals(4032 - 256, plan.xs.last())
        assertTrue((1 until plan.xs.size).all { 256 - (plan.xs[it] - plan.xs[it - 1]) >= 64 }, "every overlap at least 64")
    }

    @Test
    fun `resize cases`() {
        val c = case("resize")
        c.objects("cases").forEachIndexed { k, rc ->
            val image = load("resize", "case${k}_in.npy").image()
            assertArrayEquals(rc.ints("in"), intArrayOf(image.height, image.width))
            val out = rc.ints("out").let { Size(it[0], it[1]) }
            assertImagesEqual(load("resize", "case${k}_out.npy").image(), Resize.resize(image, out), "resize case $k")
            val w = Resize.axisWeights(rc.ints("in")[1], out.width)
            assertArrayEquals(rc.ints("x_first"), w.firsts, "case $k firsts")
            val expected = rc.list("x_weights")
            assertEquals(expected.size, w.weights.size)
            expected.forEachIndexed { i, row ->
                val e = (row as List<*>).map { it as Double }.toDoubleArray()
                assertArrayEquals(e, w.weights[i], 0.0, "case $k weights of output $i")
            }
        }
    }

    @Test
    fun `pixel cases`() {
        val c = case("pixels")
        val levels = load("pixels", c.string("levels")).image()
        for (rc in c.objects("cases")) {
            val r = range(rc)
            assertBitsEqual(load("pixels", rc.string("tensor")).tensor(), Pixels.toTensor(levels, r, Layout.NCHW), "range $r tensor")
            val values = load("pixels", rc.string("values")).tensor()
            assertImagesEqual(load("pixels", rc.string("pixels")).image(), Pixels.toPixels(values, r, Layout.NCHW), "range $r edge values")
            assertImagesEqual(levels, Pixels.toPixels(load("pixels", rc.string("tensor")).tensor(), r, Layout.NCHW), "range $r round trip")
        }
        // [0, 255] gives the integers back
        val t = load("pixels", "range0_tensor.npy").tensor()
        for (k in 0 until 256) for (ch in 0 until 3) assertEquals(levels[0, k, ch].toFloat(), t.data[ch * 256 + k])
    }
}

/** Where tests/golden is: -Dpix2mobile.golden, else ../../tests/golden from android_demo/core. */
object Golden {
    val dir: File by lazy {
        val d = File(System.getProperty("pix2mobile.golden") ?: System.getenv("PIX2MOBILE_GOLDEN") ?: "../../tests/golden")
        require(
            File(d, "index.json").isFile,
        ) { "golden vectors not found at ${d.absolutePath}; pass -Dpix2mobile.golden=PATH/tests/golden" }
        d
    }

    @Volatile var maxResultDifference = 0
}
