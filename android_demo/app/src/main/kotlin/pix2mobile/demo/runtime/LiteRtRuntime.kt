package pix2mobile.demo.runtime

import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import pix2mobile.core.ArtifactInfo
import pix2mobile.core.FloatTensor
import pix2mobile.core.ModelRuntime
import pix2mobile.core.RuntimeFailure
import java.io.File
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * `.tflite` through LiteRT's Interpreter: CPU with XNNPACK and a thread count, or the GPU
 * delegate, offered only where LiteRT's CompatibilityList accepts the device. Inputs and outputs
 * go by name through the "serving_default" signature our converter writes, in the manifest
 * row's layout (NHWC unless exported with --nchw-tflite).
 */
class LiteRtRuntime(
    file: File,
    private val row: ArtifactInfo,
    options: RuntimeOptions,
) : ModelRuntime {
    private val gpuDelegate: GpuDelegate?
    private val interpreter: Interpreter
    override val label: String

    init {
        val opts = Interpreter.Options()
        if (options.gpu) {
            gpuDelegate =
                CompatibilityList().use { compat ->
                    if (!compat.isDelegateSupportedOnThisDevice) {
                        throw RuntimeFailure("LiteRT's compatibility list does not accept this device's GPU; run on the CPU")
                    }
                    GpuDelegate(compat.bestOptionsForThisDevice)
                }
            opts.addDelegate(gpuDelegate)
            label = "LiteRT GPU delegate"
        } else {
            gpuDelegate = null
            opts.setNumThreads(options.threads)
            opts.setUseXNNPACK(true)
            label = "LiteRT CPU (XNNPACK, ${options.threads} threads)"
        }
        interpreter =
            try {
                Interpreter(file, opts)
            } catch (e: Exception) {
                gpuDelegate?.close()
                throw RuntimeFailure("LiteRT could not load ${file.name}: ${e.message}", e)
            }
        val names = interpreter.getSignatureInputs(SIGNATURE).toSet()
        val missing = row.inputs.map { it.name }.filter { it !in names }
        if (missing.isNotEmpty()) {
            close()
            throw RuntimeFailure("${file.name}: signature '$SIGNATURE' lacks inputs $missing (has $names)")
        }
    }

    override fun run(inputs: List<FloatTensor>): List<FloatTensor> {
        val feed = HashMap<String, Any>()
        row.inputs.forEachIndexed { k, spec -> feed[spec.name] = direct(inputs[k].data) }
        val outs = HashMap<String, Any>()
        for (spec in row.outputs) outs[spec.name] = ByteBuffer.allocateDirect(4 * spec.count).order(ByteOrder.nativeOrder())
        try {
            interpreter.runSignature(feed, outs, SIGNATURE)
        } catch (e: Exception) {
            throw RuntimeFailure("LiteRT failed to run: ${e.message}", e)
        }
        return row.outputs.map { spec ->
            val buf = outs.getValue(spec.name) as ByteBuffer
            buf.rewind()
            val data = FloatArray(spec.count)
            buf.asFloatBuffer().get(data)
            FloatTensor(spec.shape, data)
        }
    }

    override fun close() {
        interpreter.close()
        gpuDelegate?.close()
    }

    companion object {
        const val SIGNATURE = "serving_default"

        /** LiteRT's own device check for its GPU delegate (the toggle is offered only when true). */
        fun gpuSupported(): Boolean =
            try {
                CompatibilityList().use { it.isDelegateSupportedOnThisDevice }
            } catch (e: Throwable) {
                false
            }

        private fun direct(data: FloatArray): ByteBuffer {
            val b = ByteBuffer.allocateDirect(4 * data.size).order(ByteOrder.nativeOrder())
            b.asFloatBuffer().put(data)
            b.rewind()
            return b
        }
    }
}
