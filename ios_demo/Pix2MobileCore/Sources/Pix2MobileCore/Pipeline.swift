// A photo through one artifact, as the manifest describes it: the plan (fit or tile), pixels ->
// the input in the artifact's layout and range (or a pixel image for Core ML image inputs), the
// prediction, the output -> pixels, timed in three parts. The command line's preprocess and
// postprocess use the same `PhotoJob` and `ArtifactIO`, so CI's comparison with Python covers
// the app's code path up to the prediction.

import Dispatch
import Foundation

/// The plan of one photo and the canvases the model runs on.
public enum PhotoJob: Sendable {
    case fit(FitPlan, canvas: RGBImage)
    case tile(TilePlan, tiles: [RGBImage])

    public static func prepare(_ photo: RGBImage, model: Size, mode: Mode, overlap: Size? = nil) throws -> PhotoJob {
        switch mode {
        case .fit:
            let plan = try FitPlan(photo: photo.size, model: model)
            return .fit(plan, canvas: try plan.canvas(photo))
        case .tile:
            let plan = try TilePlan(photo: photo.size, tile: model, overlap: overlap)
            return .tile(plan, tiles: try plan.tiles(photo))
        }
    }

    /// What the model runs on, in order (one canvas for fit; the tiles, rows first, for tile).
    public var canvases: [RGBImage] {
        switch self {
        case .fit(_, let canvas): return [canvas]
        case .tile(_, let tiles): return tiles
        }
    }

    /// The model's outputs (one per canvas, in `range`) -> the result at the photo's size.
    public func finish(_ outputs: [ImageTensor], range: ValueRange) throws -> RGBImage {
        switch self {
        case .fit(let plan, _):
            guard outputs.count == 1 else { throw CoreError("fit runs the model once; got \(outputs.count) outputs") }
            return try plan.result(Pixels.image(outputs[0], range: range))
        case .tile(let plan, _):
            return try plan.blend(outputs, range: range)
        }
    }
}

/// An artifact's inputs and outputs as its manifest row says.
public struct ArtifactIO: Sendable {
    public let entry: ArtifactEntry
    public let imageInput: TensorInfo?
    public let output: TensorInfo

    public init(_ entry: ArtifactEntry) throws {
        self.entry = entry
        imageInput = entry.imageInput
        output = try entry.imageOutput()
        if let info = imageInput, info.imageSize == nil {
            throw CoreError(
                "input \(info.name): an image input has shape (1, 3, H, W) or (1, H, W, 3), got \(info.shape)")
        }
    }

    /// The model's (H, W): its image input's, or its output's for the morph.
    public var modelSize: Size { (imageInput ?? output).imageSize! }

    /// Canvas pixels -> the image input's tensor in the manifest's layout and range (for a pixel-image
    /// input the manifest says range [0, 255], so the values are the pixels themselves).
    public func inputTensor(_ canvas: RGBImage) throws -> ImageTensor {
        guard let info = imageInput else {
            throw CoreError("this \(entry.format) artifact takes no photo (its inputs: \(entry.inputs.map(\.name)))")
        }
        guard canvas.size == info.imageSize else {
            throw CoreError("input \(info.name) takes \(info.imageSize!), the canvas is \(canvas.size)")
        }
        return try Pixels.tensor(canvas, range: info.range, layout: info.layout)
    }

    /// The image input's feature: a pixel image for image I/O, else the tensor.
    public func inputFeature(_ canvas: RGBImage) throws -> FeatureValue {
        guard let info = imageInput else { throw CoreError("this artifact takes no photo") }
        if info.isPixelImage {
            guard canvas.size == info.imageSize else {
                throw CoreError("input \(info.name) takes \(info.imageSize!), the canvas is \(canvas.size)")
            }
            return .image(canvas)
        }
        let t = try inputTensor(canvas)
        return .tensor(shape: t.shape, values: t.values)
    }

    /// The image output's feature -> an image tensor in `output.range` (a pixel image becomes its
    /// levels 0...255, which the manifest's [0, 255] range maps back to the same pixels).
    public func outputTensor(_ features: [String: FeatureValue]) throws -> ImageTensor {
        guard let value = features[output.name] else {
            throw CoreError("the model returned no output '\(output.name)' (it returned \(features.keys.sorted()))")
        }
        let size = output.imageSize!
        switch value {
        case .image(let img):
            guard img.size == size else { throw CoreError("output \(output.name) is \(img.size), expected \(size)") }
            let t = try Pixels.tensor(img, range: .pixels, layout: .nchw)
            return t
        case .tensor(let shape, let values):
            guard shape == output.shape else {
                throw CoreError("output \(output.name) has shape \(shape); the manifest says \(output.shape)")
            }
            return try ImageTensor(layout: output.layout, height: size.height, width: size.width, values: values)
        }
    }

    /// The range `outputTensor`'s values are in.
    public func outputRange(_ features: [String: FeatureValue]) -> ValueRange {
        if case .image = features[output.name] { return .pixels }
        return output.range
    }

    /// The latent input (BicycleGAN's z, layout NC) and the scalar input (the morph's alpha, layout N).
    public var latentInput: TensorInfo? { entry.inputs.first { $0.layout == .nc } }
    public var scalarInput: TensorInfo? { entry.inputs.first { $0.layout == .n } }
}

/// Milliseconds spent in each part of one run.
public struct Timing: Equatable, Sendable {
    public var preprocessMs: Double = 0
    public var predictionMs: Double = 0
    public var postprocessMs: Double = 0

    public init(preprocessMs: Double = 0, predictionMs: Double = 0, postprocessMs: Double = 0) {
        self.preprocessMs = preprocessMs
        self.predictionMs = predictionMs
        self.postprocessMs = postprocessMs
    }

    public var totalMs: Double { preprocessMs + predictionMs + postprocessMs }
}

/// Monotonic milliseconds.
public func nowMs() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1_000_000 }

/// Runs photos (or the morph's alpha) through one artifact with any `ModelRunner`. Immutable, so
/// apps may use it off the main thread; whether predictions may overlap is the runner's business
/// (the app runs one at a time).
public final class Translator: @unchecked Sendable {
    public let io: ArtifactIO
    public let runner: ModelRunner

    public init(entry: ArtifactEntry, runner: ModelRunner) throws {
        io = try ArtifactIO(entry)
        self.runner = runner
    }

    /// One photo -> the model's picture of it, at the photo's size. `extras` feeds the other
    /// inputs (BicycleGAN's z) by name.
    public func apply(
        _ photo: RGBImage, mode: Mode = .fit, overlap: Size? = nil, extras: [String: FeatureValue] = [:]
    ) throws -> (image: RGBImage, timing: Timing) {
        guard let info = io.imageInput else {
            throw CoreError("\(io.entry.format): this model takes no photo; render it (the morph) instead")
        }
        var timing = Timing()
        var t0 = nowMs()
        let job = try PhotoJob.prepare(photo, model: io.modelSize, mode: mode, overlap: overlap)
        let feeds = try job.canvases.map { canvas -> [String: FeatureValue] in
            var feed = extras
            feed[info.name] = try io.inputFeature(canvas)
            return feed
        }
        timing.preprocessMs = nowMs() - t0
        var outputs: [[String: FeatureValue]] = []
        for feed in feeds {
            t0 = nowMs()
            outputs.append(try runner.predict(feed))
            timing.predictionMs += nowMs() - t0
        }
        t0 = nowMs()
        let tensors = try outputs.map { try io.outputTensor($0) }
        let image = try job.finish(tensors, range: io.outputRange(outputs[0]))
        timing.postprocessMs = nowMs() - t0
        return (image, timing)
    }

    /// A model without a photo input (the morph): its output at the model's size.
    public func render(_ extras: [String: FeatureValue]) throws -> (image: RGBImage, timing: Timing) {
        var timing = Timing()
        let t0 = nowMs()
        let out = try runner.predict(extras)
        timing.predictionMs = nowMs() - t0
        let t1 = nowMs()
        let image = Pixels.image(try io.outputTensor(out), range: io.outputRange(out))
        timing.postprocessMs = nowMs() - t1
        return (image, timing)
    }
}

/// BicycleGAN's z: N(0, 1) draws clipped to the latent's range (docs/preprocessing.md section 2:
/// apps draw their own). Box-Muller over a seedable SplitMix64, so a seed repeats a sample.
public struct LatentSampler: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public init() { state = UInt64.random(in: 0...UInt64.max) }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    private mutating func unit() -> Double { (Double(next() >> 11) + 1) / 9_007_199_254_740_992 }

    public mutating func normal() -> Double {
        let u1 = unit()
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A (1, dim) latent for `info` (layout NC), clipped to its range.
    public mutating func draw(_ info: TensorInfo) -> FeatureValue {
        let dim = info.shape.last ?? 1
        let values = (0..<dim).map { _ in Float(min(info.range.hi, max(info.range.lo, normal()))) }
        return .tensor(shape: info.shape, values: values)
    }
}
