// Latency statistics, as pix2mobile's benchmark reports them (src/pix2mobile/benchmark/latency.py):
// median, p90 and min of every timed run, and mean and std after 3-sigma clipping (twice), as
// Ultralytics' profiler trims. A figure that was not measured is nil, never 0.

import Foundation

public struct LatencyStats: Equatable, Sendable {
    public let runs: Int
    public let medianMs: Double?
    public let p90Ms: Double?
    public let minMs: Double?
    public let meanMs: Double?
    public let stdMs: Double?

    public init(_ samplesMs: [Double]) {
        runs = samplesMs.count
        guard !samplesMs.isEmpty else {
            (medianMs, p90Ms, minMs, meanMs, stdMs) = (nil, nil, nil, nil, nil)
            return
        }
        let sorted = samplesMs.sorted()
        medianMs = LatencyStats.percentile(sorted, 50)
        p90Ms = LatencyStats.percentile(sorted, 90)
        minMs = sorted[0]
        let kept = LatencyStats.sigmaClip(samplesMs)
        meanMs = LatencyStats.mean(kept)
        stdMs = LatencyStats.std(kept)
    }

    /// numpy's default (linear) percentile of sorted values.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q / 100 * Double(sorted.count - 1)
        let lo = Int(pos.rounded(.down))
        let hi = min(lo + 1, sorted.count - 1)
        let frac = pos - Double(lo)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * frac
    }

    public static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }

    /// Population standard deviation (numpy's default).
    public static func std(_ x: [Double]) -> Double {
        let m = mean(x)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)).squareRoot()
    }

    /// Drop values more than `sigma` standard deviations from the mean, `iterations` times.
    public static func sigmaClip(_ values: [Double], sigma: Double = 3, iterations: Int = 2) -> [Double] {
        var x = values
        for _ in 0..<iterations {
            if x.count < 3 { break }
            let m = mean(x)
            let s = std(x)
            let kept = x.filter { abs($0 - m) <= sigma * s }
            if kept.count == x.count { break }
            x = kept
        }
        return x
    }

    /// "12.3 ± 0.4 ms (median 12.1, n=20)", or "not measured".
    public var summary: String {
        guard let meanMs, let stdMs, let medianMs else { return "not measured" }
        return "\(format(meanMs)) ± \(format(stdMs)) ms (median \(format(medianMs)), n=\(runs))"
    }
}

/// Timings of repeated runs, split as the app shows them.
public struct SplitLatency: Sendable {
    public var preprocess: LatencyStats
    public var prediction: LatencyStats
    public var postprocess: LatencyStats

    public init(_ timings: [Timing]) {
        preprocess = LatencyStats(timings.map(\.preprocessMs))
        prediction = LatencyStats(timings.map(\.predictionMs))
        postprocess = LatencyStats(timings.map(\.postprocessMs))
    }
}

/// Warm up, then run until at least `minRuns` runs *and* `minSeconds` have passed (at most
/// `maxRuns`); returns every timed run's split.
public func timeRuns(
    warmup: Int = 2, minRuns: Int = 10, minSeconds: Double = 2, maxRuns: Int = 1000,
    _ body: () throws -> Timing
) rethrows -> [Timing] {
    for _ in 0..<warmup { _ = try body() }
    var out: [Timing] = []
    let start = nowMs()
    while out.count < maxRuns && (out.count < minRuns || nowMs() - start < minSeconds * 1000) {
        out.append(try body())
    }
    return out
}

func format(_ ms: Double) -> String { String(format: "%.1f", ms) }
