// Core ML behind `ModelRunner` (Apple platforms only: CoreML does not exist on Linux, so this file
// compiles to nothing there). Models are found at run time, not generated into classes: the
// bundled .mlpackage/.mlmodel is compiled on the device once (MLModel.compileModel(at:), as Apple's
// "Downloading and Compiling a Model on the User's Device"), cached by its sha256, and driven
// through MLFeatureProvider: CVPixelBuffers for image I/O (the manifest's color_layout "RGB"),
// MLMultiArrays for tensors, as the manifest says.

#if canImport(CoreML) && canImport(CoreVideo)
    import CoreML
    import CoreVideo
    import Foundation

    extension ComputeUnits {
        public var mlComputeUnits: MLComputeUnits {
            switch self {
            case .all: return .all
            case .cpuAndGPU: return .cpuAndGPU
            case .cpuOnly: return .cpuOnly
            }
        }
    }

    /// Sendable so apps can load it off the main thread and hand it back: it holds one MLModel, never
    /// changed after init, whose predictions Core ML allows from any thread.
    public final class CoreMLRunner: ModelRunner, @unchecked Sendable {
        public let model: MLModel
        public let computeUnits: ComputeUnits

        public init(compiled url: URL, computeUnits: ComputeUnits) throws {
            let config = MLModelConfiguration()
            config.computeUnits = computeUnits.mlComputeUnits
            model = try MLModel(contentsOf: url, configuration: config)
            self.computeUnits = computeUnits
        }

        /// Compile `artifact` (.mlpackage or .mlmodel) unless a compiled copy for `cacheKey` (the
        /// manifest's sha256) is already in `cacheFolder`, and load it.
        public static func load(
            artifact: URL, computeUnits: ComputeUnits, cacheKey: String?, cacheFolder: URL?
        ) async throws -> CoreMLRunner {
            let compiled = try await compile(artifact, cacheKey: cacheKey, cacheFolder: cacheFolder)
            return try CoreMLRunner(compiled: compiled, computeUnits: computeUnits)
        }

        public static func compile(_ artifact: URL, cacheKey: String?, cacheFolder: URL?) async throws -> URL {
            if artifact.pathExtension == "mlmodelc" { return artifact }
            guard let cacheKey, let cacheFolder else { return try await MLModel.compileModel(at: artifact) }
            let fm = FileManager.default
            let kept = cacheFolder.appendingPathComponent("\(cacheKey).mlmodelc")
            if fm.fileExists(atPath: kept.path) { return kept }
            let fresh = try await MLModel.compileModel(at: artifact)
            try fm.createDirectory(at: cacheFolder, withIntermediateDirectories: true)
            do {
                try fm.moveItem(at: fresh, to: kept)
                return kept
            } catch {
                return fresh  // another load won the race, or the cache is not writable: use this copy
            }
        }

        public func predict(_ inputs: [String: FeatureValue]) throws -> [String: FeatureValue] {
            var features: [String: MLFeatureValue] = [:]
            for (name, value) in inputs {
                switch value {
                case .image(let img):
                    features[name] = MLFeatureValue(pixelBuffer: try CoreMLRunner.pixelBuffer(img))
                case .tensor(let shape, let values):
                    features[name] = MLFeatureValue(multiArray: try CoreMLRunner.multiArray(shape, values))
                }
            }
            let out = try model.prediction(from: try MLDictionaryFeatureProvider(dictionary: features))
            var result: [String: FeatureValue] = [:]
            for name in out.featureNames {
                guard let value = out.featureValue(for: name) else { continue }
                if let buffer = value.imageBufferValue {
                    result[name] = .image(try CoreMLRunner.image(buffer))
                } else if let array = value.multiArrayValue {
                    result[name] = CoreMLRunner.tensor(array)
                } else {
                    throw CoreError("Core ML output \(name) is neither an image nor a multi-array (\(value.type))")
                }
            }
            return result
        }

        // ------------------------------------------------------------------- pixel buffers

        /// RGB pixels -> a 32BGRA buffer (what Core ML image inputs with color layout RGB take).
        public static func pixelBuffer(_ img: RGBImage) throws -> CVPixelBuffer {
            var made: CVPixelBuffer?
            let attrs: [CFString: Any] = [
                kCVPixelBufferIOSurfacePropertiesKey: [:] as CFDictionary,
                kCVPixelBufferCGImageCompatibilityKey: true,
                kCVPixelBufferCGBitmapContextCompatibilityKey: true,
            ]
            let status = CVPixelBufferCreate(
                kCFAllocatorDefault, img.width, img.height, kCVPixelFormatType_32BGRA, attrs as CFDictionary, &made)
            guard status == kCVReturnSuccess, let buffer = made else {
                throw CoreError("could not make a \(img.width)x\(img.height) pixel buffer (CVReturn \(status))")
            }
            CVPixelBufferLockBaseAddress(buffer, [])
            defer { CVPixelBufferUnlockBaseAddress(buffer, []) }
            guard let base = CVPixelBufferGetBaseAddress(buffer) else { throw CoreError("pixel buffer has no memory") }
            let stride = CVPixelBufferGetBytesPerRow(buffer)
            let p = base.assumingMemoryBound(to: UInt8.self)
            for y in 0..<img.height {
                for x in 0..<img.width {
                    let s = (y * img.width + x) * 3
                    let d = y * stride + x * 4
                    p[d] = img.pixels[s + 2]
                    p[d + 1] = img.pixels[s + 1]
                    p[d + 2] = img.pixels[s]
                    p[d + 3] = 255
                }
            }
            return buffer
        }

        /// A Core ML output image -> RGB pixels.
        public static func image(_ buffer: CVPixelBuffer) throws -> RGBImage {
            CVPixelBufferLockBaseAddress(buffer, .readOnly)
            defer { CVPixelBufferUnlockBaseAddress(buffer, .readOnly) }
            let w = CVPixelBufferGetWidth(buffer)
            let h = CVPixelBufferGetHeight(buffer)
            let stride = CVPixelBufferGetBytesPerRow(buffer)
            guard let base = CVPixelBufferGetBaseAddress(buffer) else { throw CoreError("pixel buffer has no memory") }
            let p = base.assumingMemoryBound(to: UInt8.self)
            let format = CVPixelBufferGetPixelFormatType(buffer)
            var out = [UInt8](repeating: 0, count: w * h * 3)
            // byte offsets of R, G, B inside one pixel, and the pixel's width in bytes
            let order: (r: Int, g: Int, b: Int, bytes: Int)
            switch format {
            case kCVPixelFormatType_32BGRA: order = (2, 1, 0, 4)
            case kCVPixelFormatType_32ARGB: order = (1, 2, 3, 4)
            case kCVPixelFormatType_32RGBA: order = (0, 1, 2, 4)
            case kCVPixelFormatType_OneComponent8: order = (0, 0, 0, 1)
            default:
                throw CoreError("Core ML returned a pixel buffer of format \(format), which this app does not read")
            }
            for y in 0..<h {
                for x in 0..<w {
                    let s = y * stride + x * order.bytes
                    let d = (y * w + x) * 3
                    out[d] = p[s + order.r]
                    out[d + 1] = p[s + order.g]
                    out[d + 2] = p[s + order.b]
                }
            }
            return try RGBImage(height: h, width: w, pixels: out)
        }

        // ------------------------------------------------------------------- multi-arrays

        public static func multiArray(_ shape: [Int], _ values: [Float]) throws -> MLMultiArray {
            let array = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
            guard array.count == values.count else {
                throw CoreError("a tensor of shape \(shape) holds \(array.count) values, got \(values.count)")
            }
            let strides = array.strides.map(\.intValue)
            let p = array.dataPointer.bindMemory(to: Float.self, capacity: array.count)
            forEachIndex(shape) { i, idx in p[offset(idx, strides)] = values[i] }
            return array
        }

        /// Any MLMultiArray (strided, float32/float16/double/int32) -> row-major Float values.
        public static func tensor(_ array: MLMultiArray) -> FeatureValue {
            let shape = array.shape.map(\.intValue)
            let strides = array.strides.map(\.intValue)
            var values = [Float](repeating: 0, count: array.count)
            switch array.dataType {
            case .float32:
                let p = array.dataPointer.bindMemory(to: Float.self, capacity: array.count)
                forEachIndex(shape) { i, idx in values[i] = p[offset(idx, strides)] }
            case .double:
                let p = array.dataPointer.bindMemory(to: Double.self, capacity: array.count)
                forEachIndex(shape) { i, idx in values[i] = Float(p[offset(idx, strides)]) }
            default:  // float16, int32: through NSNumber (slow, exact)
                forEachIndex(shape) { i, idx in values[i] = array[idx.map { NSNumber(value: $0) }].floatValue }
            }
            return .tensor(shape: shape, values: values)
        }

        static func offset(_ idx: [Int], _ strides: [Int]) -> Int {
            var o = 0
            for k in 0..<idx.count { o += idx[k] * strides[k] }
            return o
        }

        /// Calls `body(linear index, multi-index)` in row-major order.
        static func forEachIndex(_ shape: [Int], _ body: (Int, [Int]) -> Void) {
            let n = shape.reduce(1, *)
            var idx = [Int](repeating: 0, count: shape.count)
            for i in 0..<n {
                body(i, idx)
                var k = shape.count - 1
                while k >= 0 {
                    idx[k] += 1
                    if idx[k] < shape[k] { break }
                    idx[k] = 0
                    k -= 1
                }
            }
        }
    }
#endif
