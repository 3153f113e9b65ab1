package pix2mobile.core

import org.junit.platform.engine.discovery.DiscoverySelectors
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder
import org.junit.platform.launcher.core.LauncherFactory
import org.junit.platform.launcher.listeners.SummaryGeneratingListener
import java.io.PrintWriter
import kotlin.system.exitProcess

/**
 * Runs every JUnit test of the core and prints `N passed, N failed` (the line CI reads; the
 * JUnit console's own summary is not one). Exit status 1 when any test failed or none ran.
 */
fun main() {
    val request = LauncherDiscoveryRequestBuilder.request().selectors(DiscoverySelectors.selectPackage("pix2mobile.core")).build()
    val listener = SummaryGeneratingListener()
    LauncherFactory.create().execute(request, listener)
    val s = listener.summary
    val out = PrintWriter(System.out, true)
    s.printFailuresTo(out, 25)
    println("core golden vectors: largest result difference ${Golden.maxResultDifference} level(s) (1 allowed)")
    val skipped = s.testsSkippedCount + s.testsAbortedCount
    println("${s.testsSucceededCount} passed, ${s.testsFailedCount} failed" + if (skipped > 0) ", $skipped skipped" else "")
    exitProcess(if (s.testsFailedCount == 0L && s.testsSucceededCount > 0L) 0 else 1)
}
