package pix2mobile.demo

import android.graphics.Color
import android.net.Uri
import android.os.Bundle
import android.view.View
import android.view.ViewGroup
import android.widget.AdapterView
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.CheckBox
import android.widget.ImageView
import android.widget.LinearLayout
import android.widget.RadioButton
import android.widget.RadioGroup
import android.widget.ScrollView
import android.widget.SeekBar
import android.widget.Spinner
import android.widget.Switch
import android.widget.TextView
import androidx.activity.ComponentActivity
import androidx.activity.result.PickVisualMediaRequest
import androidx.activity.result.contract.ActivityResultContracts
import androidx.core.content.FileProvider
import pix2mobile.core.BundledArtifact
import pix2mobile.core.BundledModel
import pix2mobile.core.FloatTensor
import pix2mobile.core.LatencyStats
import pix2mobile.core.Latents
import pix2mobile.core.Mode
import pix2mobile.core.ModelRuntime
import pix2mobile.core.Pipeline
import pix2mobile.core.RgbImage
import pix2mobile.demo.runtime.RuntimeOptions
import pix2mobile.demo.runtime.Runtimes
import java.io.File
import java.util.Locale
import java.util.Random
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * The one activity: pick a bundled model and artifact, a photo from the gallery or the camera, and
 * run it; a second screen runs the self-test. All model work happens on [worker], one thread that
 * owns the open runtime; this class only wires views to [Catalog], the runtimes and the core.
 */
class MainActivity : ComponentActivity() {
    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private lateinit var catalog: Catalog
    private val random = Random()

    // state, read and written on the UI thread; the runtime lives on the worker
    private var groupIndex = 0
    private var direction = 0
    private var artifactIndex = 0
    private var photo: RgbImage? = null
    private var z: FloatTensor? = null
    private var alpha = 0.5f
    private var runtime: ModelRuntime? = null
    private var runtimeKey: String? = null

    private lateinit var runScreen: View
    private lateinit var selfTestScreen: View
    private lateinit var selfTestList: LinearLayout
    private lateinit var status: TextView
    private lateinit var timings: TextView
    private lateinit var result: ImageView
    private lateinit var artifacts: Spinner
    private lateinit var directionSwitch: Switch
    private lateinit var gpu: CheckBox
    private lateinit var threads: SeekBar
    private lateinit var threadsLabel: TextView
    private lateinit var modeGroup: RadioGroup
    private lateinit var newSample: Button
    private lateinit var alphaRow: LinearLayout

    private val pickPhoto = registerForActivityResult(ActivityResultContracts.PickVisualMedia()) { uri -> uri?.let(::loadPhoto) }
    private lateinit var cameraUri: Uri
    private val takePhoto = registerForActivityResult(ActivityResultContracts.TakePicture()) { saved -> if (saved) loadPhoto(cameraUri) }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        catalog = Catalog(this)
        val cameraFile = File(cacheDir, "camera/photo.jpg").also { it.parentFile?.mkdirs() }
        cameraUri = FileProvider.getUriForFile(this, "$packageName.photos", cameraFile)
        runScreen = buildRunScreen()
        selfTestScreen = buildSelfTestScreen()
        setContentView(runScreen)
        if (catalog.groups.isEmpty()) {
            status.text = "No models bundled. Run `pix2mobile bundle EXPORT_DIR --android android_demo` and rebuild." +
                catalog.problems.joinToString("") { "\n$it" }
        } else {
            selectGroup(0)
        }
    }

    override fun onDestroy() {
        worker.execute { closeRuntime() }
        worker.shutdown()
        super.onDestroy()
    }

    // ------------------------------------------------------------------ what is selected

    private val model: BundledModel get() = catalog.groups[groupIndex][direction.coerceAtMost(catalog.groups[groupIndex].size - 1)]
    private val artifact: BundledArtifact get() = model.artifacts[artifactIndex.coerceAtMost(model.artifacts.size - 1)]

    private fun options() = RuntimeOptions(threads = threads.progress + 1, gpu = gpu.isChecked && gpu.isEnabled)

    private fun selectGroup(index: Int) {
        groupIndex = index
        direction = 0
        val group = catalog.groups[index]
        directionSwitch.visibility = if (group.size > 1) View.VISIBLE else View.GONE
        directionSwitch.isChecked = false
        onModelChanged()
    }

    private fun onModelChanged() {
        artifactIndex = 0
        artifacts.adapter =
            ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, model.artifacts.map { "${it.format} ${it.precision}" })
        val pipeline = Pipeline(model.row(artifact), model.modelSize)
        z = pipeline.latent?.let { Latents.draw(it, random) }
        newSample.visibility = if (pipeline.latent != null) View.VISIBLE else View.GONE
        alphaRow.visibility = if (pipeline.scalar != null) View.VISIBLE else View.GONE
        modeGroup.visibility = if (pipeline.takesPhoto) View.VISIBLE else View.GONE
        onArtifactChanged()
    }

    private fun onArtifactChanged() {
        val canGpu = Runtimes.gpuAvailable(artifact.format)
        gpu.isEnabled = canGpu
        if (!canGpu) gpu.isChecked = false
        gpu.text = if (canGpu) "GPU delegate" else "GPU (LiteRT on a supported device only)"
        status.text = "${model.title}: ${artifact.format} ${artifact.precision}. Pick a photo."
        if (!Pipeline(model.row(artifact), model.modelSize).takesPhoto) run()
    }

    // ------------------------------------------------------------------ running

    private fun loadPhoto(uri: Uri) {
        status.text = "Decoding the photo..."
        worker.execute {
            try {
                val img = Photos.decode(this, uri)
                runOnUiThread {
                    photo = img
                    run()
                }
            } catch (e: Exception) {
                runOnUiThread { status.text = "Could not read the photo: ${e.message}" }
            }
        }
    }

    private fun run(benchmark: Boolean = false) {
        val m = model
        val a = artifact
        val pipeline = Pipeline(m.row(a), m.modelSize)
        val p = photo
        if (pipeline.takesPhoto && p == null) {
            status.text = "Pick a photo first."
            return
        }
        val mode = if (modeGroup.checkedRadioButtonId == TILE_ID) Mode.TILE else Mode.FIT
        val opts = options()
        val zNow = z
        val alphaNow = alpha
        status.text = "Running ${a.format} ${a.precision}..."
        worker.execute {
            try {
                val rt = runtimeFor(m, a, opts)
                val out = pipeline.apply(rt, p, mode, zNow, alphaNow)
                val bench = if (benchmark) LatencyStats.measure(3, 10) { pipeline.apply(rt, p, mode, zNow, alphaNow) } else null
                val bitmap = Photos.toBitmap(out.image)
                runOnUiThread {
                    result.setImageBitmap(bitmap)
                    val t = out.timings
                    timings.text =
                        String.format(
                            Locale.ROOT,
                            "pre-process %.1f ms · inference %.1f ms%s · post-process %.1f ms",
                            t.preMs,
                            t.inferenceMs,
                            if (out.runs > 1) " (${out.runs} tiles)" else "",
                            t.postMs,
                        ) + (bench?.let { "\nwhole photo: ${it.describe()}" } ?: "")
                    status.text = "${m.title}, ${a.format} ${a.precision} via ${rt.label}, ${mode.name.lowercase(Locale.ROOT)}"
                }
            } catch (e: Exception) {
                runOnUiThread { status.text = "Failed: ${e.javaClass.simpleName}: ${e.message}" }
            }
        }
    }

    /** On the worker: the open runtime for this artifact and options, reopened when they change. */
    private fun runtimeFor(
        m: BundledModel,
        a: BundledArtifact,
        opts: RuntimeOptions,
    ): ModelRuntime {
        val key = "${m.name}/${a.key}/$opts"
        runtime?.let { if (key == runtimeKey) return it }
        closeRuntime()
        val rt = Runtimes.open(this, m, a, opts)
        runtime = rt
        runtimeKey = key
        return rt
    }

    private fun closeRuntime() {
        runtime?.close()
        runtime = null
        runtimeKey = null
    }

    private fun runSelfTest() {
        setContentView(selfTestScreen)
        selfTestList.removeAllViews()
        addLine("Running every bundled artifact on its golden input...", Color.DKGRAY)
        val opts = options().copy(gpu = false)
        worker.execute {
            closeRuntime()
            val results =
                SelfTestRunner(this, catalog).runAll(opts) { check ->
                    runOnUiThread {
                        addLine(check.describe(), if (check.passed) GREEN else RED)
                    }
                }
            val failed = results.count { !it.passed }
            runOnUiThread {
                addLine(
                    if (results.isEmpty()) "No bundled artifacts." else "${results.size - failed} passed, $failed failed",
                    if (failed ==
                        0 &&
                        results.isNotEmpty()
                    ) {
                        GREEN
                    } else {
                        RED
                    },
                )
            }
        }
    }

    // ------------------------------------------------------------------ views (built in code: one screen each)

    private fun buildRunScreen(): View {
        val col = column()
        val models = Spinner(this)
        models.adapter =
            ArrayAdapter(
                this,
                android.R.layout.simple_spinner_dropdown_item,
                catalog.groups.map { g ->
                    g.first().let {
                        if (it.direction !=
                            null
                        ) {
                            it.group
                        } else {
                            it.name
                        }
                    } +
                        " (${g.first().family})"
                },
            )
        models.onItemSelectedListener = onSelect { if (it != groupIndex) selectGroup(it) }
        col.addView(models)
        directionSwitch = Switch(this).apply { text = "CycleGAN direction: A to B / B to A" }
        directionSwitch.setOnCheckedChangeListener { _, on ->
            direction = if (on) 1 else 0
            onModelChanged()
        }
        col.addView(directionSwitch)
        artifacts = Spinner(this)
        artifacts.onItemSelectedListener =
            onSelect {
                if (it != artifactIndex) {
                    artifactIndex = it
                    onArtifactChanged()
                }
            }
        col.addView(artifacts)
        threadsLabel = TextView(this)
        threads = SeekBar(this).apply { max = 7 }
        threads.setOnSeekBarChangeListener(onSeek { threadsLabel.text = "CPU threads: ${it + 1}" })
        threads.progress = 3
        threadsLabel.text = "CPU threads: 4"
        col.addView(threadsLabel)
        col.addView(threads)
        gpu = CheckBox(this)
        col.addView(gpu)
        modeGroup = RadioGroup(this).apply { orientation = RadioGroup.HORIZONTAL }
        modeGroup.addView(
            RadioButton(this).apply {
                id = FIT_ID
                text = "fit (one run)"
            },
        )
        modeGroup.addView(
            RadioButton(this).apply {
                id = TILE_ID
                text = "tile (full resolution)"
            },
        )
        modeGroup.check(FIT_ID)
        col.addView(modeGroup)
        alphaRow = column()
        val alphaLabel = TextView(this).apply { text = "alpha 0.50" }
        val alphaBar =
            SeekBar(this).apply {
                max = 100
                progress = 50
            }
        alphaBar.setOnSeekBarChangeListener(
            onSeek(onStop = { run() }) {
                alpha = it / 100f
                alphaLabel.text = String.format(Locale.ROOT, "alpha %.2f", alpha)
            },
        )
        alphaRow.addView(alphaLabel)
        alphaRow.addView(alphaBar)
        col.addView(alphaRow)
        val buttons = LinearLayout(this).apply { orientation = LinearLayout.HORIZONTAL }
        buttons.addView(button("Gallery") { pickPhoto.launch(PickVisualMediaRequest(ActivityResultContracts.PickVisualMedia.ImageOnly)) })
        buttons.addView(button("Camera") { takePhoto.launch(cameraUri) })
        buttons.addView(button("Run") { run() })
        buttons.addView(button("Bench") { run(benchmark = true) })
        col.addView(buttons)
        val more = LinearLayout(this).apply { orientation = LinearLayout.HORIZONTAL }
        newSample =
            button("New sample") {
                Pipeline(model.row(artifact), model.modelSize).latent?.let { z = Latents.draw(it, random) }
                run()
            }
        more.addView(newSample)
        more.addView(button("Self-test") { runSelfTest() })
        col.addView(more)
        status = TextView(this)
        timings = TextView(this)
        col.addView(status)
        col.addView(timings)
        result = ImageView(this).apply { adjustViewBounds = true }
        col.addView(result)
        return ScrollView(this).apply { addView(col) }
    }

    private fun buildSelfTestScreen(): View {
        val col = column()
        col.addView(button("Back") { setContentView(runScreen) })
        col.addView(
            TextView(this).apply {
                text =
                    "Self-test: each artifact on its golden input; PSNR against the output Python got from the same artifact."
            },
        )
        selfTestList = column()
        col.addView(selfTestList)
        return ScrollView(this).apply { addView(col) }
    }

    private fun addLine(
        text: String,
        color: Int,
    ) {
        selfTestList.addView(
            TextView(this).apply {
                this.text = text
                setTextColor(color)
                setPadding(0, 8, 0, 8)
            },
        )
    }

    private fun column() =
        LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(24, 24, 24, 24)
            layoutParams = ViewGroup.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.WRAP_CONTENT)
        }

    private fun button(
        label: String,
        onClick: () -> Unit,
    ) = Button(this).apply {
        text = label
        setOnClickListener { onClick() }
    }

    private fun onSelect(block: (Int) -> Unit) =
        object : AdapterView.OnItemSelectedListener {
            override fun onItemSelected(
                parent: AdapterView<*>?,
                view: View?,
                position: Int,
                id: Long,
            ) = block(position)

            override fun onNothingSelected(parent: AdapterView<*>?) {}
        }

    private fun onSeek(
        onStop: () -> Unit = {},
        onChange: (Int) -> Unit,
    ) = object : SeekBar.OnSeekBarChangeListener {
        override fun onProgressChanged(
            bar: SeekBar?,
            progress: Int,
            fromUser: Boolean,
        ) = onChange(progress)

        override fun onStartTrackingTouch(bar: SeekBar?) {}

        override fun onStopTrackingTouch(bar: SeekBar?) = onStop()
    }

    companion object {
        private const val FIT_ID = 1
        private const val TILE_ID = 2
        private val GREEN = Color.rgb(0, 128, 0)
        private val RED = Color.rgb(192, 0, 0)
    }
}
