package pix2mobile.demo.runtime

import org.pytorch.IValue
import org.pytorch.LiteModuleLoader
import org.pytorch.PyTorchAndroid
import pix2mobile.core.ArtifactInfo
import pix2mobile.core.FloatTensor
import pix2mobile.core.ModelRuntime
import pix2mobile.core.RuntimeFailure
import java.io.File

/** `.ptl` through PyTorch's lite interpreter (pytorch_android_lite); NCHW in and out. */
class PyTorchLiteRuntime(
    file: File,
    private val row: ArtifactInfo,
    options: RuntimeOptions,
) : ModelRuntime {
    private val module =
        try {
            PyTorchAndroid.setNumThreads(options.threads)
            LiteModuleLoader.load(file.absolutePath)
        } catch (e: Exception) {
            throw RuntimeFailure("PyTorch Lite could not load ${file.name}: ${e.message}", e)
        }
    override val label: String = "PyTorch Lite (${options.threads} threads)"

    override fun run(inputs: List<FloatTensor>): List<FloatTensor> {
        val values = inputs.map { IValue.from(org.pytorch.Tensor.fromBlob(it.data, it.longShape)) }.toTypedArray()
        val out =
            try {
                module.forward(*values)
            } catch (e: Exception) {
                throw RuntimeFailure("PyTorch Lite failed to run: ${e.message}", e)
            }
        val tensors = if (out.isTuple) out.toTuple().map { it.toTensor() } else listOf(out.toTensor())
        if (tensors.size <
            row.outputs.size
        ) {
            throw RuntimeFailure("PyTorch Lite returned ${tensors.size} outputs, the manifest lists ${row.outputs.size}")
        }
        return row.outputs.mapIndexed { k, spec ->
            val data = tensors[k].dataAsFloatArray
            if (data.size !=
                spec.count
            ) {
                throw RuntimeFailure("PyTorch Lite output ${spec.name} holds ${data.size} values, expected ${spec.count}")
            }
            FloatTensor(spec.shape, data)
        }
    }

    override fun close() = module.destroy()
}
