// docs/preprocessing.md section 4: the one resampler (a separable triangle filter that widens
// when shrinking: PIL's antialiased BILINEAR), in Double, taps summed in order. Core Image and
// vImage scalers differ from it and must not stand in for it.

public enum Resampler {
    /// For each output index: the first input index and the normalised tap weights.
    public static func axisWeights(from nIn: Int, to nOut: Int) throws -> (firsts: [Int], weights: [[Double]]) {
        guard nIn >= 1, nOut >= 1 else { throw CoreError("cannot resize \(nIn) pixels to \(nOut)") }
        let scale = Double(nIn) / Double(nOut)
        let support = max(scale, 1.0)
        var firsts: [Int] = []
        var weights: [[Double]] = []
        firsts.reserveCapacity(nOut)
        weights.reserveCapacity(nOut)
        for i in 0..<nOut {
            let centre = (Double(i) + 0.5) * scale
            let first = max(0, Int((centre - support + 0.5).rounded(.down)))
            let last = min(nIn, Int((centre + support + 0.5).rounded(.down)))
            var w: [Double] = []
            for j in first..<max(first, last) {
                let t = abs(((Double(j) + 0.5) - centre) / support)
                w.append(t < 1.0 ? 1.0 - t : 0.0)
            }
            var total = 0.0
            for x in w { total = total + x }
            firsts.append(first)
            weights.append(w.map { $0 / total })
        }
        return (firsts, weights)
    }

    /// (H0, W0) -> (H1, W1): columns first, then rows, one rounding at the end; an axis whose
    /// length does not change is copied, and an image whose size does not change is returned as is.
    public static func resize(_ image: RGBImage, to size: Size) throws -> RGBImage {
        try size.check("resize target")
        let (h0, w0, h1, w1) = (image.height, image.width, size.height, size.width)
        if h0 == h1 && w0 == w1 { return image }
        var cur = image.pixels.map { Double($0) }
        var curW = w0
        if w1 != w0 {
            let (firsts, weights) = try axisWeights(from: w0, to: w1)
            var out = [Double](repeating: 0, count: h0 * w1 * 3)
            for y in 0..<h0 {
                let row = y * w0 * 3
                for x in 0..<w1 {
                    let f = firsts[x]
                    let ws = weights[x]
                    for c in 0..<3 {
                        var acc = 0.0
                        for k in 0..<ws.count {
                            let prod = ws[k] * cur[row + (f + k) * 3 + c]
                            acc = acc + prod
                        }
                        out[(y * w1 + x) * 3 + c] = acc
                    }
                }
            }
            cur = out
            curW = w1
        }
        if h1 != h0 {
            let (firsts, weights) = try axisWeights(from: h0, to: h1)
            var out = [Double](repeating: 0, count: h1 * curW * 3)
            let stride = curW * 3
            for y in 0..<h1 {
                let f = firsts[y]
                let ws = weights[y]
                for i in 0..<stride {
                    var acc = 0.0
                    for k in 0..<ws.count {
                        let prod = ws[k] * cur[(f + k) * stride + i]
                        acc = acc + prod
                    }
                    out[y * stride + i] = acc
                }
            }
            cur = out
        }
        return RGBImage(unchecked: h1, w1, cur.map(roundPixel))
    }

    /// clamp(floor(a + 0.5), 0, 255).
    @inline(__always)
    public static func roundPixel(_ a: Double) -> UInt8 {
        let v = (a + 0.5).rounded(.down)
        return UInt8(min(255, max(0, v)))
    }
}
