package pix2mobile.core

/**
 * 8-bit RGB pixels <-> float32 tensors, sections 2 and 3 of docs/preprocessing.md.
 *
 * Kotlin rounds every Float operation to binary32 as written (no fused multiply-add on the JVM
 * unless asked for), so `((v * span) / 255) + lo` gives Python's bits exactly.
 */
enum class Layout {
    NCHW,
    NHWC,
    NC,
    N,
    ;

    val isImage: Boolean get() = this == NCHW || this == NHWC

    companion object {
        fun of(name: String): Layout =
            entries.firstOrNull { it.name == name } ?: throw FormatError("unknown tensor layout '$name' (expected NCHW, NHWC, NC or N)")
    }
}

/** A tensor's value range [lo, hi]: the value an image tensor holds for pixel 0 and for 255. */
data class ValueRange(
    val lo: Float,
    val hi: Float,
) {
    override fun toString() = "[${lo.fmt()}, ${hi.fmt()}]"

    private fun Float.fmt() = if (this == Math.floor(this.toDouble()).toFloat()) toInt().toString() else toString()
}

object Pixels {
    /** Section 2: (H, W) pixels -> (1, 3, H, W) or (1, H, W, 3) float32 in `range`. */
    fun toTensor(
        image: RgbImage,
        range: ValueRange,
        layout: Layout,
    ): FloatTensor {
        val h = image.height
        val w = image.width
        val lo = range.lo
        val span = range.hi - lo
        val table = FloatArray(256) { v -> (v.toFloat() * span) / 255f + lo }
        val out = FloatArray(3 * h * w)
        when (layout) {
            Layout.NCHW -> {
                for (c in 0 until 3) {
                    val base = c * h * w
                    for (k in 0 until h * w) out[base + k] = table[image.data[3 * k + c].toInt() and 0xFF]
                }
            }

            Layout.NHWC -> {
                for (k in 0 until 3 * h * w) out[k] = table[image.data[k].toInt() and 0xFF]
            }

            else -> {
                throw FormatError("an image tensor's layout must be NCHW or NHWC, got $layout")
            }
        }
        val shape = if (layout == Layout.NCHW) intArrayOf(1, 3, h, w) else intArrayOf(1, h, w, 3)
        return FloatTensor(shape, out)
    }

    /** Section 3: one value -> one pixel level (NaN -> 0, clamped to 0..255). */
    fun level(
        y: Float,
        lo: Float,
        span: Float,
    ): Int {
        val u = ((y - lo) * 255f) / span
        val v = Math.floor(u.toDouble() + 0.5)
        if (v.isNaN()) return 0
        return v.coerceIn(0.0, 255.0).toInt()
    }

    /** Section 3: a (1, 3, H, W) or (1, H, W, 3) tensor -> (H, W) pixels. */
    fun toPixels(
        tensor: FloatTensor,
        range: ValueRange,
        layout: Layout,
    ): RgbImage {
        val s = tensor.shape
        if (s.size != 4 ||
            s[0] != 1
        ) {
            throw FormatError("expected one image tensor (1, C, H, W) or (1, H, W, C), got shape ${s.contentToString()}")
        }
        val (h, w, ch) =
            when (layout) {
                Layout.NCHW -> Triple(s[2], s[3], s[1])
                Layout.NHWC -> Triple(s[1], s[2], s[3])
                else -> throw FormatError("an image tensor's layout must be NCHW or NHWC, got $layout")
            }
        if (ch != 3) throw FormatError("expected 3 colour channels in $layout, got shape ${s.contentToString()}")
        val lo = range.lo
        val span = range.hi - lo
        val out = ByteArray(h * w * 3)
        val d = tensor.data
        if (layout == Layout.NHWC) {
            for (k in out.indices) out[k] = level(d[k], lo, span).toByte()
        } else {
            for (c in 0 until 3) {
                val base = c * h * w
                for (k in 0 until h * w) out[3 * k + c] = level(d[base + k], lo, span).toByte()
            }
        }
        return RgbImage(h, w, out)
    }

    /** An (N, 3, H, W) or (N, H, W, 3) stack's tensor k as a batch-1 tensor of the same layout. */
    fun slice(
        stack: FloatTensor,
        k: Int,
    ): FloatTensor {
        val s = stack.shape
        val per = stack.data.size / s[0]
        return FloatTensor(intArrayOf(1, *s.copyOfRange(1, s.size)), stack.data.copyOfRange(k * per, (k + 1) * per))
    }

    /** Batch-1 tensors of one shape stacked on axis 0. */
    fun stack(tensors: List<FloatTensor>): FloatTensor {
        require(tensors.isNotEmpty()) { "nothing to stack" }
        val s = tensors[0].shape
        val per = tensors[0].data.size
        val out = FloatArray(per * tensors.size)
        tensors.forEachIndexed { k, t ->
            require(t.shape.contentEquals(s)) { "cannot stack ${t.shape.contentToString()} with ${s.contentToString()}" }
            System.arraycopy(t.data, 0, out, k * per, per)
        }
        return FloatTensor(intArrayOf(tensors.size, *s.copyOfRange(1, s.size)), out)
    }

    /** A (1, H, W, 3) tensor as (1, 3, H, W), or the reverse. */
    fun transpose(
        tensor: FloatTensor,
        from: Layout,
    ): FloatTensor {
        val s = tensor.shape
        val d = tensor.data
        val out = FloatArray(d.size)
        return if (from == Layout.NHWC) {
            val h = s[1]
            val w = s[2]
            for (c in 0 until 3) for (k in 0 until h * w) out[c * h * w + k] = d[3 * k + c]
            FloatTensor(intArrayOf(1, 3, h, w), out)
        } else {
            val h = s[2]
            val w = s[3]
            for (c in 0 until 3) for (k in 0 until h * w) out[3 * k + c] = d[c * h * w + k]
            FloatTensor(intArrayOf(1, h, w, 3), out)
        }
    }
}
