package pix2mobile.core

import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.io.OutputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * NumPy `.npy` files: what the golden vectors and bundled golden inputs/outputs are, and what the
 * command-line tool writes so Python can read it back. Reads versions 1.0-3.0; writes 1.0.
 * dtypes: `<f4` (tensors) and `|u1` (pixels), C order only.
 */
object Npy {
    /** An array as read: its shape and either float32 or uint8 data. */
    class NpyArray(
        val shape: IntArray,
        val floats: FloatArray?,
        val bytes: ByteArray?,
    ) {
        val dtype: String get() = if (floats != null) "<f4" else "|u1"

        fun tensor(): FloatTensor =
            FloatTensor(shape, floats ?: throw FormatError("expected a float32 (<f4) array, got uint8 of shape ${shape.contentToString()}"))

        /** An (H, W, 3) uint8 array as an image (an (H, W, 4) one loses its alpha). */
        fun image(): RgbImage {
            val b = bytes ?: throw FormatError("expected a uint8 (|u1) image, got float32 of shape ${shape.contentToString()}")
            if (shape.size != 3 || (shape[2] != 3 && shape[2] != 4)) {
                throw FormatError("expected an (H, W, 3) uint8 image, got shape ${shape.contentToString()}")
            }
            if (shape[2] == 3) return RgbImage(shape[0], shape[1], b)
            val out = ByteArray(shape[0] * shape[1] * 3)
            for (k in 0 until shape[0] * shape[1]) {
                out[3 * k] = b[4 * k]
                out[3 * k + 1] = b[4 * k + 1]
                out[3 * k + 2] = b[4 * k + 2]
            }
            return RgbImage(shape[0], shape[1], out)
        }
    }

    private val MAGIC =
        byteArrayOf(0x93.toByte(), 'N'.code.toByte(), 'U'.code.toByte(), 'M'.code.toByte(), 'P'.code.toByte(), 'Y'.code.toByte())

    fun read(input: InputStream): NpyArray = read(input.readBytes())

    fun read(bytes: ByteArray): NpyArray {
        if (bytes.size < 10 || !bytes.copyOfRange(0, 6).contentEquals(MAGIC)) throw FormatError("not a .npy file (no \\x93NUMPY magic)")
        val major = bytes[6].toInt()
        val buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
        val (headerLen, start) =
            when (major) {
                1 -> Pair(buf.getShort(8).toInt() and 0xFFFF, 10)
                2, 3 -> Pair(buf.getInt(8), 12)
                else -> throw FormatError(".npy version $major.x is not supported")
            }
        if (start + headerLen > bytes.size) throw FormatError(".npy header runs past the end of the file")
        val header = String(bytes, start, headerLen, Charsets.ISO_8859_1)
        val descr =
            Regex("'descr'\\s*:\\s*'([^']*)'").find(header)?.groupValues?.get(1) ?: throw FormatError(".npy header has no descr: $header")
        val fortran = Regex("'fortran_order'\\s*:\\s*(True|False)").find(header)?.groupValues?.get(1)
        if (fortran != "False") throw FormatError(".npy array is not in C order")
        val shapeText =
            Regex("'shape'\\s*:\\s*\\(([^)]*)\\)").find(header)?.groupValues?.get(1)
                ?: throw FormatError(".npy header has no shape: $header")
        val shape =
            shapeText
                .split(",")
                .map { it.trim() }
                .filter { it.isNotEmpty() }
                .map { it.toInt() }
                .toIntArray()
        val count = shape.fold(1L) { a, b -> a * b }
        val offset = start + headerLen
        return when (descr) {
            "<f4" -> {
                if (offset + 4 * count > bytes.size) throw FormatError(".npy data is shorter than its shape says")
                val floats = FloatArray(count.toInt())
                buf.position(offset)
                buf.asFloatBuffer().get(floats)
                NpyArray(shape, floats, null)
            }

            "|u1", "<u1", "|b1" -> {
                if (offset + count > bytes.size) throw FormatError(".npy data is shorter than its shape says")
                NpyArray(shape, null, bytes.copyOfRange(offset, offset + count.toInt()))
            }

            else -> {
                throw FormatError(".npy dtype $descr is not supported (only <f4 and |u1)")
            }
        }
    }

    fun write(
        out: OutputStream,
        tensor: FloatTensor,
    ) {
        val data = ByteBuffer.allocate(4 * tensor.data.size).order(ByteOrder.LITTLE_ENDIAN)
        data.asFloatBuffer().put(tensor.data)
        writeRaw(out, "<f4", tensor.shape, data.array())
    }

    fun write(
        out: OutputStream,
        image: RgbImage,
    ) = writeRaw(out, "|u1", intArrayOf(image.height, image.width, 3), image.data)

    fun bytes(tensor: FloatTensor): ByteArray = ByteArrayOutputStream().also { write(it, tensor) }.toByteArray()

    private fun writeRaw(
        out: OutputStream,
        descr: String,
        shape: IntArray,
        data: ByteArray,
    ) {
        val dims = if (shape.size == 1) "${shape[0]}," else shape.joinToString(", ")
        var header = "{'descr': '$descr', 'fortran_order': False, 'shape': ($dims), }"
        val total = 10 + header.length + 1
        header += " ".repeat((64 - total % 64) % 64) + "\n"
        out.write(MAGIC)
        out.write(byteArrayOf(1, 0, (header.length and 0xFF).toByte(), (header.length shr 8).toByte()))
        out.write(header.toByteArray(Charsets.ISO_8859_1))
        out.write(data)
    }
}
