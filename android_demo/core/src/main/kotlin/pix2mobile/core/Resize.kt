package pix2mobile.core

/**
 * The one resampler of the contract (docs/preprocessing.md section 4): a separable triangle
 * filter that widens when shrinking, in float64, taps summed in order, one rounding at the end.
 * Never `Bitmap.createScaledBitmap`: platform scalers differ from each other and from Python.
 */
object Resize {
    /** For each output index: its first input index and normalised tap weights. */
    class AxisWeights(
        val firsts: IntArray,
        val weights: Array<DoubleArray>,
    )

    fun axisWeights(
        nIn: Int,
        nOut: Int,
    ): AxisWeights {
        require(nIn >= 1 && nOut >= 1) { "cannot resize $nIn pixels to $nOut" }
        val scale = nIn.toDouble() / nOut.toDouble()
        val support = maxOf(scale, 1.0)
        val firsts = IntArray(nOut)
        val weights =
            Array(nOut) { i ->
                val centre = (i + 0.5) * scale
                val first = maxOf(0, Math.floor(centre - support + 0.5).toInt())
                val last = minOf(nIn, Math.floor(centre + support + 0.5).toInt())
                val w =
                    DoubleArray(last - first) { k ->
                        val t = Math.abs(((first + k) + 0.5 - centre) / support)
                        if (t < 1.0) 1.0 - t else 0.0
                    }
                var total = 0.0
                for (x in w) total += x
                firsts[i] = first
                DoubleArray(w.size) { w[it] / total }
            }
        return AxisWeights(firsts, weights)
    }

    /** (H0, W0) pixels -> (h, w) pixels: columns first, then rows; an unchanged axis is copied. */
    fun resize(
        image: RgbImage,
        size: Size,
    ): RgbImage {
        val h0 = image.height
        val w0 = image.width
        val h = size.height
        val w = size.width
        require(h >= 1 && w >= 1) { "cannot resize to $size" }
        if (h == h0 && w == w0) return RgbImage(h0, w0, image.data.copyOf())
        var cur = DoubleArray(h0 * w0 * 3) { (image.data[it].toInt() and 0xFF).toDouble() }
        var curW = w0
        if (w != w0) {
            val aw = axisWeights(w0, w)
            val out = DoubleArray(h0 * w * 3)
            for (y in 0 until h0) {
                val row = y * w0 * 3
                for (x in 0 until w) {
                    val first = aw.firsts[x]
                    val ws = aw.weights[x]
                    for (c in 0 until 3) {
                        var acc = 0.0
                        for (k in ws.indices) acc += ws[k] * cur[row + (first + k) * 3 + c]
                        out[(y * w + x) * 3 + c] = acc
                    }
                }
            }
            cur = out
            curW = w
        }
        if (h != h0) {
            val ah = axisWeights(h0, h)
            val out = DoubleArray(h * curW * 3)
            val stride = curW * 3
            for (y in 0 until h) {
                val first = ah.firsts[y]
                val ws = ah.weights[y]
                for (j in 0 until stride) {
                    var acc = 0.0
                    for (k in ws.indices) acc += ws[k] * cur[(first + k) * stride + j]
                    out[y * stride + j] = acc
                }
            }
            cur = out
        }
        return RgbImage(h, w, ByteArray(cur.size) { roundPixel(cur[it]).toByte() })
    }

    /** float64 -> a level: floor(x + 0.5) clamped to 0..255. */
    fun roundPixel(x: Double): Int = Math.floor(x + 0.5).coerceIn(0.0, 255.0).toInt()
}
