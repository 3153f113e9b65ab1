// The values the contract (docs/preprocessing.md) talks about: sizes, 8-bit RGB pixels, tensor
// layouts and value ranges, and the one user-facing error.

/// A user-facing failure: `message` says what went wrong and what to do next.
public struct CoreError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// (height, width), written in JSON as `[H, W]` like every size in manifest.json and bundle.json.
public struct Size: Hashable, Codable, CustomStringConvertible, Sendable {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        height = try c.decode(Int.self)
        width = try c.decode(Int.self)
        if !c.isAtEnd {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a size is [H, W]")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(height)
        try c.encode(width)
    }

    public var description: String { "\(height)x\(width)" }

    func check(_ what: String) throws {
        if height < 1 || width < 1 {
            throw CoreError("\(what) size must be two positive integers, got (\(height), \(width))")
        }
    }
}

/// 8-bit RGB pixels, row-major, three bytes per pixel in R, G, B order.
public struct RGBImage: Equatable, Sendable {
    public let height: Int
    public let width: Int
    public var pixels: [UInt8]

    public init(height: Int, width: Int, pixels: [UInt8]) throws {
        guard height >= 1, width >= 1, pixels.count == height * width * 3 else {
            throw CoreError(
                "an RGB image of \(height)x\(width) needs \(max(0, height * width * 3)) bytes, got \(pixels.count)")
        }
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// An image of one colour (used for canvases before they are filled).
    public init(height: Int, width: Int, filledWith value: UInt8 = 0) {
        self.height = height
        self.width = width
        self.pixels = [UInt8](repeating: value, count: height * width * 3)
    }

    /// From interleaved 8-bit RGBA (or RGBX): the fourth byte is dropped, as the contract says.
    /// A caller holding real transparency composites it over white first.
    public init(height: Int, width: Int, rgba: [UInt8]) throws {
        guard height >= 1, width >= 1, rgba.count == height * width * 4 else {
            throw CoreError("an RGBA image of \(height)x\(width) needs \(height * width * 4) bytes, got \(rgba.count)")
        }
        var rgb = [UInt8](repeating: 0, count: height * width * 3)
        for p in 0..<(height * width) {
            rgb[3 * p] = rgba[4 * p]
            rgb[3 * p + 1] = rgba[4 * p + 1]
            rgb[3 * p + 2] = rgba[4 * p + 2]
        }
        self.height = height
        self.width = width
        self.pixels = rgb
    }

    public var size: Size { Size(height: height, width: width) }

    public subscript(y: Int, x: Int, c: Int) -> UInt8 {
        pixels[(y * width + x) * 3 + c]
    }

    /// Interleaved RGBA with alpha 255 (what CGImage and CVPixelBuffer code wants).
    public func rgba() -> [UInt8] {
        var out = [UInt8](repeating: 255, count: height * width * 4)
        for p in 0..<(height * width) {
            out[4 * p] = pixels[3 * p]
            out[4 * p + 1] = pixels[3 * p + 1]
            out[4 * p + 2] = pixels[3 * p + 2]
        }
        return out
    }

    /// The (h, w) block at (top, left).
    public func crop(top: Int, left: Int, height h: Int, width w: Int) -> RGBImage {
        precondition(top >= 0 && left >= 0 && top + h <= height && left + w <= width, "crop outside the image")
        var out = [UInt8](repeating: 0, count: h * w * 3)
        for y in 0..<h {
            let src = ((top + y) * width + left) * 3
            out.replaceSubrange((y * w * 3)..<((y + 1) * w * 3), with: pixels[src..<(src + w * 3)])
        }
        return RGBImage(unchecked: h, w, out)
    }

    init(unchecked height: Int, _ width: Int, _ pixels: [UInt8]) {
        self.height = height
        self.width = width
        self.pixels = pixels
    }
}

/// How a tensor's dimensions are ordered (the manifest's `layout`).
public enum Layout: String, Codable, Sendable {
    case nchw = "NCHW"
    case nhwc = "NHWC"
    case nc = "NC"
    case n = "N"

    public var isImage: Bool { self == .nchw || self == .nhwc }
}

/// The manifest's `range` [lo, hi]: the value an image tensor holds for pixel 0 is lo, for 255 hi.
public struct ValueRange: Equatable, Codable, Sendable, CustomStringConvertible {
    public var lo: Double
    public var hi: Double

    public init(_ lo: Double, _ hi: Double) {
        self.lo = lo
        self.hi = hi
    }

    public init(from decoder: Decoder) throws {
        var c = try decoder.unkeyedContainer()
        lo = try c.decode(Double.self)
        hi = try c.decode(Double.self)
        if !c.isAtEnd {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a range is [lo, hi]")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(lo)
        try c.encode(hi)
    }

    public static let pixels = ValueRange(0, 255)
    public var description: String { "[\(lo), \(hi)]" }
}

/// One image tensor of batch 1 and 3 channels (NCHW or NHWC), float32 values.
public struct ImageTensor: Equatable, Sendable {
    public let layout: Layout
    public let height: Int
    public let width: Int
    public var values: [Float]

    public init(layout: Layout, height: Int, width: Int, values: [Float]) throws {
        guard layout.isImage else { throw CoreError("an image tensor is NCHW or NHWC, not \(layout.rawValue)") }
        guard values.count == 3 * height * width else {
            throw CoreError(
                "an image tensor of 3x\(height)x\(width) needs \(3 * height * width) values, got \(values.count)")
        }
        self.layout = layout
        self.height = height
        self.width = width
        self.values = values
    }

    /// The shape as the manifest writes it: (1, 3, H, W) or (1, H, W, 3).
    public var shape: [Int] { layout == .nchw ? [1, 3, height, width] : [1, height, width, 3] }

    @inline(__always)
    public func index(c: Int, y: Int, x: Int) -> Int {
        layout == .nchw ? (c * height + y) * width + x : (y * width + x) * 3 + c
    }

    public subscript(c: Int, y: Int, x: Int) -> Float { values[index(c: c, y: y, x: x)] }
}
