// The self-test: every bundled artifact on its golden vectors (src/pix2mobile/pipelines/bundle.py).
// 1. The app's own pre-processing of golden/photo.npy must reproduce the golden input exactly
//    (canvas pixels equal, tensors bit-equal): the phone's contract code is checked, not assumed.
// 2. The runtime predicts on that input; its output is compared with the golden output by PSNR
//    (as src/pix2mobile/runtimes/parity.py: both mapped onto [0, 1] and clipped, PSNR capped at
//    100 dB, peak-to-peak scale for nearly flat outputs) and held to the artifact's export gate.
// Any error fails the test with its message; nothing passes by not running.

import Foundation

public struct SelfTestResult: Sendable, Identifiable {
    public var id: String { "\(model)/\(artifact)" }
    public var model: String
    public var artifact: String
    /// What computed the golden output (Core ML files: pix2mobile's numpy evaluator).
    public var goldenRuntime: String
    public var psnrDb: Double?
    public var thresholdDb: Double
    public var timing: Timing?
    /// nil when the test passed.
    public var failure: String?
    /// Set when no prediction was made (no runtime on this platform): only step 1 ran.
    public var skippedPrediction: String?

    public var passed: Bool { failure == nil && skippedPrediction == nil }

    public init(
        model: String, artifact: String, goldenRuntime: String, thresholdDb: Double, psnrDb: Double? = nil,
        timing: Timing? = nil, failure: String? = nil, skippedPrediction: String? = nil
    ) {
        self.model = model
        self.artifact = artifact
        self.goldenRuntime = goldenRuntime
        self.thresholdDb = thresholdDb
        self.psnrDb = psnrDb
        self.timing = timing
        self.failure = failure
        self.skippedPrediction = skippedPrediction
    }

    /// An artifact that could not be tested at all (its runtime failed to load it): a failure.
    public static func failed(_ model: BundledModel, _ artifact: BundledArtifact, _ why: String) -> SelfTestResult {
        SelfTestResult(
            model: model.name, artifact: artifact.key, goldenRuntime: artifact.runtime,
            thresholdDb: artifact.thresholdDb ?? SelfTest.defaultThresholdDb, failure: why)
    }
}

public enum SelfTest {
    public static let psnrCapDb = 100.0
    public static let smallRange = 0.25
    /// A gate for rows that carry none (should not happen with pix2mobile's exports).
    public static let defaultThresholdDb = 30.0

    /// Step 1: the inputs the app makes from the golden photo, checked against the bundle's vectors.
    public static func inputs(_ model: BundledModel, _ artifact: BundledArtifact) throws -> [String: FeatureValue] {
        let io = try ArtifactIO(try model.entry(artifact))
        var feed: [String: FeatureValue] = [:]
        for v in artifact.inputs {
            let golden = try NpyArray.read(model.url(v.file))
            guard let info = io.entry.inputs.first(where: { $0.name == v.name }) else {
                throw CoreError("bundle.json lists input \(v.name), the manifest does not")
            }
            if info.layout.isImage {
                guard let plan = model.index.plan else { throw CoreError("bundle.json has no fit plan for \(v.name)") }
                let photo = try NpyArray.read(model.url(model.index.photo)).rgbImage()
                let canvas = try plan.canvas(photo)
                if let canvasFile = artifact.canvas {
                    let stored = try NpyArray.read(model.url(canvasFile)).rgbImage()
                    if stored != canvas {
                        throw CoreError(
                            "pre-processing: the app's fit canvas differs from \(canvasFile) "
                                + "in \(zip(stored.pixels, canvas.pixels).filter { $0 != $1 }.count) values")
                    }
                }
                // the golden tensor is in the model's range (`v.range`), in the manifest's layout
                let mine = try Pixels.tensor(canvas, range: v.range, layout: v.layout)
                try bitsEqual(mine.values, golden, what: v.file)
                feed[v.name] = try io.inputFeature(canvas)
            } else {
                guard let values = golden.float32 else {
                    throw CoreError("\(v.file): expected float32, got \(golden.descr)")
                }
                guard golden.shape == info.shape else {
                    throw CoreError("\(v.file) has shape \(golden.shape); the manifest says \(info.shape)")
                }
                feed[v.name] = .tensor(shape: golden.shape, values: values)
            }
        }
        return feed
    }

    /// Step 2's comparison: the worst output's PSNR against the golden outputs.
    public static func psnr(
        _ model: BundledModel, _ artifact: BundledArtifact, outputs: [String: FeatureValue]
    ) throws -> Double {
        let entry = try model.entry(artifact)
        var worst = psnrCapDb
        for v in artifact.outputs {
            let golden = try NpyArray.read(model.url(v.file))
            guard let info = entry.outputs.first(where: { $0.name == v.name }) else {
                throw CoreError("bundle.json lists output \(v.name), the manifest does not")
            }
            guard let value = outputs[v.name] else {
                throw CoreError("the runtime returned no output '\(v.name)' (it returned \(outputs.keys.sorted()))")
            }
            let reference = unitScale(golden.floats, v.range)
            let candidate: [Double]
            switch value {
            case .image(let img):
                guard let size = info.imageSize, img.size == size else {
                    throw CoreError(
                        "output \(v.name) is \(img.size), expected \(info.imageSize.map { "\($0)" } ?? "?")")
                }
                let levels = try Pixels.tensor(img, range: .pixels, layout: v.layout)
                candidate = levels.values.map { Double($0) / 255 }
            case .tensor(let shape, let values):
                guard shape == golden.shape else {
                    throw CoreError("output \(v.name) has shape \(shape), the golden output \(golden.shape)")
                }
                if !values.allSatisfy({ $0.isFinite }) { return -.infinity }
                candidate = unitScale(values, info.range)
            }
            guard candidate.count == reference.count else {
                throw CoreError("output \(v.name): \(candidate.count) values, the golden output has \(reference.count)")
            }
            worst = min(worst, psnr(reference, candidate))
        }
        return worst
    }

    /// PSNR in dB of two [0, 1] arrays, with parity.py's scale rule and cap.
    public static func psnr(_ reference: [Double], _ candidate: [Double]) -> Double {
        let ptp = (reference.max() ?? 0) - (reference.min() ?? 0)
        let dataRange = ptp >= smallRange ? 1.0 : max(ptp, 1e-6)
        var sum = 0.0
        for (r, c) in zip(reference, candidate) { sum += (r - c) * (r - c) }
        let mse = sum / Double(max(1, reference.count))
        if !mse.isFinite { return mse.isNaN ? -.infinity : 0 }
        if mse <= dataRange * dataRange * pow(10, -psnrCapDb / 10) { return psnrCapDb }
        return 10 * log10(dataRange * dataRange / mse)
    }

    static func unitScale(_ values: [Float], _ range: ValueRange) -> [Double] {
        values.map { min(1, max(0, (Double($0) - range.lo) / (range.hi - range.lo))) }
    }

    static func bitsEqual(_ mine: [Float], _ golden: NpyArray, what: String) throws {
        guard let g = golden.float32, g.count == mine.count else {
            throw CoreError(
                "pre-processing: \(what) holds \(golden.descr) \(golden.shape), the app made \(mine.count) floats")
        }
        let differ = zip(mine, g).filter { $0.bitPattern != $1.bitPattern }.count
        if differ > 0 {
            throw CoreError("pre-processing: \(differ) of \(g.count) values differ from \(what) in their bits")
        }
    }

    /// Both steps for one artifact; `runner` nil runs step 1 only (no runtime on this platform).
    public static func run(
        _ model: BundledModel, _ artifact: BundledArtifact, runner: ModelRunner?, noRunnerReason: String = ""
    ) -> SelfTestResult {
        var result = SelfTestResult(
            model: model.name, artifact: artifact.key, goldenRuntime: artifact.runtime,
            thresholdDb: artifact.thresholdDb ?? defaultThresholdDb)
        do {
            let feed = try inputs(model, artifact)
            guard let runner else {
                result.skippedPrediction = noRunnerReason
                return result
            }
            let t0 = nowMs()
            let outputs = try runner.predict(feed)
            result.timing = Timing(predictionMs: nowMs() - t0)
            let db = try psnr(model, artifact, outputs: outputs)
            result.psnrDb = db
            if !(db >= result.thresholdDb) {
                result.failure =
                    "PSNR \(String(format: "%.2f", db)) dB is below the export gate "
                    + "\(String(format: "%.1f", result.thresholdDb)) dB against \(artifact.runtime)"
            }
        } catch {
            result.failure = "\(error)"
        }
        return result
    }
}
