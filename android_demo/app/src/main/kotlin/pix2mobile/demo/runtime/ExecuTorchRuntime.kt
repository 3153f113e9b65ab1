package pix2mobile.demo.runtime

import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor
import pix2mobile.core.ArtifactInfo
import pix2mobile.core.FloatTensor
import pix2mobile.core.ModelRuntime
import pix2mobile.core.RuntimeFailure
import java.io.File

/**
 * `.pte` through ExecuTorch's Module (XNNPACK-delegated parts plus portable kernels, as our
 * converter partitions them). The method is loaded up front so a program this runtime cannot read
 * fails here, loudly, not as an empty result later. Inputs are fresh contiguous buffers (the
 * runtime ignores strides), outputs are copied before the next call.
 */
class ExecuTorchRuntime(
    file: File,
    private val row: ArtifactInfo,
    @Suppress("UNUSED_PARAMETER") options: RuntimeOptions,
) : ModelRuntime {
    private val module: Module = Module.load(file.absolutePath)
    override val label: String = "ExecuTorch (XNNPACK + portable kernels)"

    init {
        val status = module.loadMethod("forward")
        if (status != 0) {
            module.destroy()
            throw RuntimeFailure(
                "ExecuTorch could not load 'forward' of ${file.name} (error 0x${status.toString(
                    16,
                )}); was it written by a newer executorch than this app's runtime?",
            )
        }
    }

    override fun run(inputs: List<FloatTensor>): List<FloatTensor> {
        val values = inputs.map { EValue.from(Tensor.fromBlob(it.data.copyOf(), it.longShape)) }.toTypedArray()
        val out =
            try {
                module.forward(*values)
            } catch (e: Exception) {
                throw RuntimeFailure("ExecuTorch failed to run: ${e.message}", e)
            }
        if (out.size <
            row.outputs.size
        ) {
            throw RuntimeFailure("ExecuTorch returned ${out.size} outputs, the manifest lists ${row.outputs.size}")
        }
        return row.outputs.mapIndexed { k, spec ->
            val data = out[k].toTensor().dataAsFloatArray
            if (data.size !=
                spec.count
            ) {
                throw RuntimeFailure("ExecuTorch output ${spec.name} holds ${data.size} values, expected ${spec.count}")
            }
            FloatTensor(spec.shape, data.copyOf())
        }
    }

    override fun close() = module.destroy()
}
