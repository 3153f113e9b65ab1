package pix2mobile.demo

import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import pix2mobile.demo.runtime.RuntimeOptions

/**
 * Every bundled artifact on its golden input, on the device, against Python's output of the same
 * artifact. Unlike a test that asserts inside a success callback, this one fails on everything
 * else: no bundled model, a bundle that does not read, a runtime that fails to load or run, an
 * output of the wrong shape, a PSNR below the artifact's threshold.
 */
@RunWith(AndroidJUnit4::class)
class SelfTestInstrumentedTest {
    @Test
    fun everyBundledArtifactMatchesPython() {
        val context = InstrumentationRegistry.getInstrumentation().targetContext
        val catalog = Catalog(context)
        assertTrue(
            "no bundled model under assets/models: run `pix2mobile bundle EXPORT_DIR --android android_demo` first",
            catalog.models.isNotEmpty() || catalog.problems.isNotEmpty(),
        )
        val results = SelfTestRunner(context, catalog).runAll(RuntimeOptions(threads = 2))
        val expected = catalog.models.sumOf { it.artifacts.size } + catalog.problems.size
        assertTrue("ran ${results.size} checks, expected $expected", results.size == expected)
        val failed = results.filter { !it.passed }
        assertTrue(failed.joinToString("\n", prefix = "${failed.size} of ${results.size} failed:\n") { it.describe() }, failed.isEmpty())
    }
}
