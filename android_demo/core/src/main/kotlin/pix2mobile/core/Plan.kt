package pix2mobile.core

/**
 * How a photo of any size meets a model: `fit`, `tile` and `native` (docs/preprocessing.md
 * section 5). Plans are integer arithmetic on sizes; the blend is float64 in a fixed order.
 */
enum class Mode { FIT, TILE, NATIVE }

/** fit: the photo resized to (h, w) sits at (top, left) inside the model's size. */
data class FitPlan(
    val photo: Size,
    val model: Size,
    val h: Int,
    val w: Int,
    val top: Int,
    val left: Int,
)

/** tile: tiles of [tile] size at every (y, x) of ys x xs over the photo edge-padded to [padded]. */
class TilePlan(
    val photo: Size,
    val tile: Size,
    val overlap: Size,
    val padded: Size,
    val ys: IntArray,
    val xs: IntArray,
    val wy: DoubleArray,
    val wx: DoubleArray,
) {
    /** (top, left) of every tile, rows first: the order tiles are run and summed in. */
    val boxes: List<Pair<Int, Int>> get() = ys.flatMap { y -> xs.map { x -> Pair(y, x) } }
}

object Plans {
    fun fitPlan(
        photo: Size,
        model: Size,
    ): FitPlan {
        checkSize("photo", photo)
        checkSize("model", model)
        val h0 = photo.height.toLong()
        val w0 = photo.width.toLong()
        val mh = model.height.toLong()
        val mw = model.width.toLong()
        val h: Long
        val w: Long
        if (h0 * mw >= w0 * mh) {
            h = mh
            w = minOf(mw, maxOf(1L, (2 * w0 * mh + h0) / (2 * h0)))
        } else {
            w = mw
            h = minOf(mh, maxOf(1L, (2 * h0 * mw + w0) / (2 * w0)))
        }
        return FitPlan(photo, model, h.toInt(), w.toInt(), ((mh - h) / 2).toInt(), ((mw - w) / 2).toInt())
    }

    /** canvas[y][x] = pixels[clamp(y - top, 0, h - 1)][clamp(x - left, 0, w - 1)]. */
    fun padEdge(
        image: RgbImage,
        size: Size,
        top: Int = 0,
        left: Int = 0,
    ): RgbImage {
        val out = ByteArray(size.height * size.width * 3)
        for (y in 0 until size.height) {
            val sy = (y - top).coerceIn(0, image.height - 1)
            for (x in 0 until size.width) {
                val sx = (x - left).coerceIn(0, image.width - 1)
                System.arraycopy(image.data, (sy * image.width + sx) * 3, out, (y * size.width + x) * 3, 3)
            }
        }
        return RgbImage(size.height, size.width, out)
    }

    /** fit, steps 1-2: the model-sized canvas the model runs on. */
    fun letterbox(
        image: RgbImage,
        plan: FitPlan,
    ): RgbImage = padEdge(Resize.resize(image, Size(plan.h, plan.w)), plan.model, plan.top, plan.left)

    /** fit, step 4: cut the photo's box out of the model-sized output and resize it to the photo's size. */
    fun unletterbox(
        out: RgbImage,
        plan: FitPlan,
    ): RgbImage = Resize.resize(crop(out, plan.top, plan.left, Size(plan.h, plan.w)), plan.photo)

    fun crop(
        image: RgbImage,
        top: Int,
        left: Int,
        size: Size,
    ): RgbImage {
        require(top >= 0 && left >= 0 && top + size.height <= image.height && left + size.width <= image.width) {
            "cannot cut $size at ($top, $left) out of ${image.size}"
        }
        val out = ByteArray(size.height * size.width * 3)
        for (y in 0 until size.height) {
            System.arraycopy(image.data, ((top + y) * image.width + left) * 3, out, y * size.width * 3, size.width * 3)
        }
        return RgbImage(size.height, size.width, out)
    }

    fun defaultOverlap(tile: Int): Int = tile / 4

    fun tileStarts(
        length: Int,
        tile: Int,
        overlap: Int,
    ): IntArray {
        if (length <= tile) return intArrayOf(0)
        val step = tile - overlap
        val n = 1 + (length - tile + step - 1) / step
        return IntArray(n) { i -> ((2L * i * (length - tile) + (n - 1)) / (2L * (n - 1))).toInt() }
    }

    /** w(p) = min(1, (p + 0.5) / o, (t - p - 0.5) / o); all 1 when o is 0. */
    fun ramp(
        tile: Int,
        overlap: Int,
    ): DoubleArray =
        DoubleArray(tile) { p ->
            if (overlap == 0) 1.0 else minOf(1.0, (p + 0.5) / overlap, (tile - p - 0.5) / overlap)
        }

    fun tilePlan(
        photo: Size,
        tile: Size,
        overlap: Size? = null,
    ): TilePlan {
        checkSize("photo", photo)
        checkSize("tile", tile)
        val ov = overlap ?: Size(defaultOverlap(tile.height), defaultOverlap(tile.width))
        for ((o, t) in listOf(ov.height to tile.height, ov.width to tile.width)) {
            if (o < 0 || o >= t) throw IllegalArgumentException("tile overlap must be between 0 and the tile side - 1 (${t - 1}), got $o")
        }
        val padded = Size(maxOf(photo.height, tile.height), maxOf(photo.width, tile.width))
        return TilePlan(
            photo,
            tile,
            ov,
            padded,
            tileStarts(padded.height, tile.height, ov.height),
            tileStarts(padded.width, tile.width, ov.width),
            ramp(tile.height, ov.height),
            ramp(tile.width, ov.width),
        )
    }

    /** native: the photo's size rounded up to [multiple], and at least [minimum] (itself rounded up). */
    fun nativeSize(
        photo: Size,
        multiple: Int = 1,
        minimum: Int = 1,
    ): Size {
        checkSize("photo", photo)

        fun up(s: Int) = maxOf((s + multiple - 1) / multiple * multiple, (minimum + multiple - 1) / multiple * multiple)
        return Size(up(photo.height), up(photo.width))
    }

    /** The tiles' input pixels, in [TilePlan.boxes] order. */
    fun tiles(
        image: RgbImage,
        plan: TilePlan,
    ): List<RgbImage> {
        val canvas = padEdge(image, plan.padded)
        return plan.boxes.map { (y, x) -> crop(canvas, y, x, plan.tile) }
    }

    /**
     * tile, steps 4-5: the weighted mean of the tiles' outputs (each (1, 3, th, tw) or
     * (1, th, tw, 3) per [layout], in [TilePlan.boxes] order) in float64, rounded to float32,
     * turned into pixels, the padding cut off.
     */
    fun blend(
        plan: TilePlan,
        outputs: List<FloatTensor>,
        range: ValueRange,
        layout: Layout,
    ): RgbImage {
        val th = plan.tile.height
        val tw = plan.tile.width
        val ph = plan.padded.height
        val pw = plan.padded.width
        val boxes = plan.boxes
        if (outputs.size != boxes.size) throw FormatError("the plan has ${boxes.size} tiles, got ${outputs.size} outputs")
        val acc = DoubleArray(3 * ph * pw)
        val wsum = DoubleArray(ph * pw)
        for ((k, box) in boxes.withIndex()) {
            val (y0, x0) = box
            val t = outputs[k]
            val expect = if (layout == Layout.NCHW) intArrayOf(1, 3, th, tw) else intArrayOf(1, th, tw, 3)
            if (!t.shape.contentEquals(expect)) {
                throw FormatError("tile $k: the model returned shape ${t.shape.contentToString()}, expected ${expect.contentToString()}")
            }
            val d = t.data
            for (p in 0 until th) {
                for (q in 0 until tw) {
                    val wt = plan.wy[p] * plan.wx[q]
                    val at = (y0 + p) * pw + (x0 + q)
                    for (c in 0 until 3) {
                        val v = if (layout == Layout.NCHW) d[(c * th + p) * tw + q] else d[(p * tw + q) * 3 + c]
                        acc[c * ph * pw + at] = acc[c * ph * pw + at] + wt * v.toDouble()
                    }
                    wsum[at] = wsum[at] + wt
                }
            }
        }
        val lo = range.lo
        val span = range.hi - lo
        val h = plan.photo.height
        val w = plan.photo.width
        val out = ByteArray(h * w * 3)
        for (y in 0 until h) {
            for (x in 0 until w) {
                val at = y * pw + x
                for (c in 0 until 3) {
                    val mean = (acc[c * ph * pw + at] / wsum[at]).toFloat()
                    out[(y * w + x) * 3 + c] = Pixels.level(mean, lo, span).toByte()
                }
            }
        }
        return RgbImage(h, w, out)
    }

    private fun checkSize(
        what: String,
        size: Size,
    ) {
        if (size.height < 1 || size.width < 1) throw IllegalArgumentException("$what size must be two positive integers, got $size")
    }
}
