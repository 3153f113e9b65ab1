// docs/preprocessing.md sections 2 and 3: 8-bit pixels <-> float32 tensors.
//
// Every step is one IEEE operation written on its own line, in the contract's order; Swift rounds
// each Float operation and never fuses a multiply and an add unless asked (no `.addingProduct`
// here), so the bits equal numpy's, Kotlin's and JavaScript's (tests: GoldenTests).

public enum Pixels {
    /// The f32 value of pixel level `v` in `range`: x = f32(f32(f32(v * span) / 255) + lo).
    @inline(__always)
    public static func value(_ v: UInt8, lo: Float, span: Float) -> Float {
        let scaled = Float(v) * span
        let unit = scaled / 255
        return unit + lo
    }

    /// The 256 values a range maps the levels to (each made by `value`).
    public static func table(_ range: ValueRange) -> [Float] {
        let lo = Float(range.lo)
        let hi = Float(range.hi)
        let span = hi - lo
        return (0...255).map { value(UInt8($0), lo: lo, span: span) }
    }

    /// Pixels -> (1, 3, H, W) or (1, H, W, 3) float32 in `range`.
    public static func tensor(_ image: RGBImage, range: ValueRange, layout: Layout) throws -> ImageTensor {
        let lut = table(range)
        let h = image.height
        let w = image.width
        var out = [Float](repeating: 0, count: 3 * h * w)
        switch layout {
        case .nhwc:
            for i in 0..<(3 * h * w) { out[i] = lut[Int(image.pixels[i])] }
        case .nchw:
            for y in 0..<h {
                for x in 0..<w {
                    let p = (y * w + x) * 3
                    for c in 0..<3 { out[(c * h + y) * w + x] = lut[Int(image.pixels[p + c])] }
                }
            }
        default:
            throw CoreError("image layout must be NCHW or NHWC, got \(layout.rawValue)")
        }
        return try ImageTensor(layout: layout, height: h, width: w, values: out)
    }

    /// One output value -> a pixel level:
    /// u = f32(f32(f32(y - lo) * 255) / f32(hi - lo)); v = floor(f64(u) + 0.5); NaN -> 0; clamp to 0..255.
    @inline(__always)
    public static func level(_ y: Float, lo: Float, span: Float) -> UInt8 {
        let shifted = y - lo
        let scaled = shifted * 255
        let u = scaled / span
        let v = (Double(u) + 0.5).rounded(.down)
        if v.isNaN { return 0 }
        return UInt8(min(255, max(0, v)))
    }

    /// An image tensor in `range` -> (H, W) pixels.
    public static func image(_ tensor: ImageTensor, range: ValueRange) -> RGBImage {
        let lo = Float(range.lo)
        let hi = Float(range.hi)
        let span = hi - lo
        let h = tensor.height
        let w = tensor.width
        var out = [UInt8](repeating: 0, count: 3 * h * w)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 {
                    out[(y * w + x) * 3 + c] = level(tensor[c, y, x], lo: lo, span: span)
                }
            }
        }
        return RGBImage(unchecked: h, w, out)
    }
}
