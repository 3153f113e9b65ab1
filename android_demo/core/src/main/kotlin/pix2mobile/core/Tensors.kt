package pix2mobile.core

/** A float32 tensor, C order (the last axis varies fastest), as every runtime takes and returns them. */
class FloatTensor(
    val shape: IntArray,
    val data: FloatArray,
) {
    init {
        require(shape.fold(1L) { a, b -> a * b } == data.size.toLong()) {
            "shape ${shape.contentToString()} holds ${shape.fold(1L) { a, b -> a * b }} values, data has ${data.size}"
        }
    }

    val longShape: LongArray get() = LongArray(shape.size) { shape[it].toLong() }

    override fun toString() = "FloatTensor${shape.contentToString()}"
}

/**
 * 8-bit RGB pixels, row-major (y, x, channel): what a decoded photo is and what a model's output
 * becomes. [fromArgb] / [toArgb] convert from and to Android's `Bitmap.getPixels` packing
 * (0xAARRGGBB); the alpha of an ARGB input is dropped, as docs/preprocessing.md says.
 */
class RgbImage(
    val height: Int,
    val width: Int,
    val data: ByteArray = ByteArray(height * width * 3),
) {
    init {
        require(height >= 1 && width >= 1) { "an image needs at least one pixel, got ${height}x$width" }
        require(data.size == height * width * 3) { "a ${height}x$width RGB image needs ${height * width * 3} bytes, got ${data.size}" }
    }

    /** Channel c (0 R, 1 G, 2 B) of pixel (y, x), 0..255. */
    operator fun get(
        y: Int,
        x: Int,
        c: Int,
    ): Int = data[(y * width + x) * 3 + c].toInt() and 0xFF

    val size: Size get() = Size(height, width)

    fun toArgb(): IntArray =
        IntArray(height * width) { k ->
            val r = data[3 * k].toInt() and 0xFF
            val g = data[3 * k + 1].toInt() and 0xFF
            val b = data[3 * k + 2].toInt() and 0xFF
            (0xFF shl 24) or (r shl 16) or (g shl 8) or b
        }

    fun contentEquals(other: RgbImage) = height == other.height && width == other.width && data.contentEquals(other.data)

    /** The largest difference of any channel of any pixel (both images of the same size). */
    fun maxDifference(other: RgbImage): Int {
        require(height == other.height && width == other.width) { "sizes differ: $size vs ${other.size}" }
        var m = 0
        for (k in data.indices) m = maxOf(m, Math.abs((data[k].toInt() and 0xFF) - (other.data[k].toInt() and 0xFF)))
        return m
    }

    companion object {
        fun fromArgb(
            width: Int,
            height: Int,
            argb: IntArray,
        ): RgbImage {
            require(argb.size == width * height) { "expected ${width * height} ARGB pixels, got ${argb.size}" }
            val out = ByteArray(width * height * 3)
            for (k in argb.indices) {
                val p = argb[k]
                out[3 * k] = (p shr 16).toByte()
                out[3 * k + 1] = (p shr 8).toByte()
                out[3 * k + 2] = p.toByte()
            }
            return RgbImage(height, width, out)
        }
    }
}

/** A size as (height, width), the order docs/preprocessing.md writes sizes in. */
data class Size(
    val height: Int,
    val width: Int,
) {
    override fun toString() = "${height}x$width"
}
