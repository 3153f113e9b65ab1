// The one interface a runtime sits behind. The app's Core ML runner (CoreMLRunner.swift, Apple
// platforms only) implements it; tests use small stand-ins. Everything around a prediction
// (pre-processing, the plan, post-processing, timing, the self-test) is written against it.

/// What goes into and comes out of a model, by input/output name.
public enum FeatureValue: Equatable, Sendable {
    /// A float32 tensor in the manifest's layout; `values` in row-major order of `shape`.
    case tensor(shape: [Int], values: [Float])
    /// A platform image (Core ML image I/O): raw 0...255 RGB pixels.
    case image(RGBImage)
}

public protocol ModelRunner: AnyObject {
    /// One prediction (batch 1).
    func predict(_ inputs: [String: FeatureValue]) throws -> [String: FeatureValue]
}

/// Where Core ML may run a model (MLComputeUnits): the app's choice, like Android's delegate spinner.
public enum ComputeUnits: String, CaseIterable, Identifiable, Sendable {
    case all = "All (Neural Engine, GPU, CPU)"
    case cpuAndGPU = "CPU + GPU"
    case cpuOnly = "CPU only"

    public var id: String { rawValue }
}
