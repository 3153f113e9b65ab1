// docs/preprocessing.md section 5: how a photo of any size meets a model.
// fit: letterbox into the model's size with edge repetition, run once, cut out and resize back.
// tile: overlapping model-sized tiles over the (edge-padded) photo, blended with linear ramps.
// native: pad to the model's size multiple (eager PyTorch and size-flexible artifacts).
// Plans are integer arithmetic; the only floating point is the resampler and the blend.

/// The photo resized to (h, w) sits at (top, left) inside the model's size.
public struct FitPlan: Equatable, Codable, Sendable {
    public var photo: Size
    public var model: Size
    public var h: Int
    public var w: Int
    public var top: Int
    public var left: Int

    public init(photo: Size, model: Size) throws {
        try photo.check("photo")
        try model.check("model")
        let (h0, w0, mh, mw) = (photo.height, photo.width, model.height, model.width)
        if h0 * mw >= w0 * mh {  // relatively taller than the model: its height fills
            h = mh
            w = min(mw, max(1, (2 * w0 * mh + h0) / (2 * h0)))
        } else {
            w = mw
            h = min(mh, max(1, (2 * h0 * mw + w0) / (2 * w0)))
        }
        top = (mh - h) / 2
        left = (mw - w) / 2
        self.photo = photo
        self.model = model
    }

    /// Step 2: the model-sized canvas the model runs on.
    public func canvas(_ photo: RGBImage) throws -> RGBImage {
        guard photo.size == self.photo else {
            throw CoreError("the fit plan is for a \(self.photo) photo, not \(photo.size)")
        }
        let resized = try Resampler.resize(photo, to: Size(height: h, width: w))
        return Plans.padEdge(resized, to: model, top: top, left: left)
    }

    /// Step 4: cut the photo's box out of the model-sized output pixels and resize it back.
    public func result(_ output: RGBImage) throws -> RGBImage {
        guard output.size == model else {
            throw CoreError("the model returned a \(output.size) image; the fit plan expects \(model)")
        }
        let box = output.crop(top: top, left: left, height: h, width: w)
        return try Resampler.resize(box, to: photo)
    }
}

/// Tiles of `tile` size at every (y, x) of `ys` x `xs` over the photo edge-padded to `padded`.
public struct TilePlan: Equatable, Codable, Sendable {
    public var photo: Size
    public var tile: Size
    public var overlap: Size
    public var padded: Size
    public var ys: [Int]
    public var xs: [Int]
    public var wy: [Double]
    public var wx: [Double]

    /// `overlap` defaults to a quarter of the tile; each side must be 0 <= o < t.
    public init(photo: Size, tile: Size, overlap: Size? = nil) throws {
        try photo.check("photo")
        try tile.check("tile")
        let ov = overlap ?? Size(height: tile.height / 4, width: tile.width / 4)
        for (o, t) in [(ov.height, tile.height), (ov.width, tile.width)] where !(0 <= o && o < t) {
            throw CoreError("tile overlap must be between 0 and the tile side - 1 (\(t - 1)), got \(o)")
        }
        self.photo = photo
        self.tile = tile
        self.overlap = ov
        padded = Size(height: max(photo.height, tile.height), width: max(photo.width, tile.width))
        ys = TilePlan.starts(length: padded.height, tile: tile.height, overlap: ov.height)
        xs = TilePlan.starts(length: padded.width, tile: tile.width, overlap: ov.width)
        wy = TilePlan.ramp(tile: tile.height, overlap: ov.height)
        wx = TilePlan.ramp(tile: tile.width, overlap: ov.width)
    }

    /// (top, left) of every tile, rows first: the order tiles run and are summed in.
    public var boxes: [(y: Int, x: Int)] { ys.flatMap { y in xs.map { x in (y: y, x: x) } } }

    public static func starts(length: Int, tile: Int, overlap: Int) -> [Int] {
        if length <= tile { return [0] }
        let step = tile - overlap
        let n = 1 + (length - tile + step - 1) / step
        return (0..<n).map { i in (2 * i * (length - tile) + (n - 1)) / (2 * (n - 1)) }
    }

    /// w(p) = min(1, (p + 0.5) / o, (t - p - 0.5) / o); all 1 when o is 0.
    public static func ramp(tile: Int, overlap: Int) -> [Double] {
        if overlap == 0 { return [Double](repeating: 1, count: tile) }
        let o = Double(overlap)
        return (0..<tile).map { p in
            let rise = (Double(p) + 0.5) / o
            let fall = (Double(tile - p) - 0.5) / o
            return min(1.0, rise, fall)
        }
    }

    /// The tiles' input pixels, in `boxes` order.
    public func tiles(_ photo: RGBImage) throws -> [RGBImage] {
        guard photo.size == self.photo else {
            throw CoreError("the tile plan is for a \(self.photo) photo, not \(photo.size)")
        }
        let canvas = Plans.padEdge(photo, to: padded)
        return boxes.map { canvas.crop(top: $0.y, left: $0.x, height: tile.height, width: tile.width) }
    }

    /// Steps 4-5: the weighted mean of the tiles' outputs (in `boxes` order, output range `range`),
    /// in Double; each mean rounded to Float, turned into a pixel, the padding cut off.
    public func blend(_ outputs: [ImageTensor], range: ValueRange) throws -> RGBImage {
        let boxes = self.boxes
        guard outputs.count == boxes.count else {
            throw CoreError("the tile plan has \(boxes.count) tiles, got \(outputs.count) outputs")
        }
        let (th, tw, ph, pw) = (tile.height, tile.width, padded.height, padded.width)
        var acc = [Double](repeating: 0, count: 3 * ph * pw)
        var wsum = [Double](repeating: 0, count: ph * pw)
        var w2d = [Double](repeating: 0, count: th * tw)
        for p in 0..<th {
            for q in 0..<tw { w2d[p * tw + q] = wy[p] * wx[q] }
        }
        for (k, box) in boxes.enumerated() {
            let out = outputs[k]
            guard out.height == th, out.width == tw else {
                throw CoreError("tile \(k) came back \(out.height)x\(out.width); the tiles are \(tile)")
            }
            for c in 0..<3 {
                for p in 0..<th {
                    for q in 0..<tw {
                        let prod = w2d[p * tw + q] * Double(out[c, p, q])
                        let i = (c * ph + box.y + p) * pw + box.x + q
                        acc[i] = acc[i] + prod
                    }
                }
            }
            for p in 0..<th {
                for q in 0..<tw {
                    let i = (box.y + p) * pw + box.x + q
                    wsum[i] = wsum[i] + w2d[p * tw + q]
                }
            }
        }
        var mean = [Float](repeating: 0, count: 3 * ph * pw)
        for c in 0..<3 {
            for i in 0..<(ph * pw) { mean[c * ph * pw + i] = Float(acc[c * ph * pw + i] / wsum[i]) }
        }
        let pixels = Pixels.image(try ImageTensor(layout: .nchw, height: ph, width: pw, values: mean), range: range)
        return pixels.crop(top: 0, left: 0, height: photo.height, width: photo.width)
    }
}

public enum Plans {
    /// Place `image` at (top, left) in a canvas of `size`; every other pixel repeats the nearest
    /// edge pixel: canvas[y][x] = image[clamp(y - top, 0, h - 1)][clamp(x - left, 0, w - 1)].
    public static func padEdge(_ image: RGBImage, to size: Size, top: Int = 0, left: Int = 0) -> RGBImage {
        let (h, w) = (image.height, image.width)
        var out = [UInt8](repeating: 0, count: size.height * size.width * 3)
        for y in 0..<size.height {
            let sy = min(max(y - top, 0), h - 1)
            for x in 0..<size.width {
                let sx = min(max(x - left, 0), w - 1)
                let s = (sy * w + sx) * 3
                let d = (y * size.width + x) * 3
                out[d] = image.pixels[s]
                out[d + 1] = image.pixels[s + 1]
                out[d + 2] = image.pixels[s + 2]
            }
        }
        return RGBImage(unchecked: size.height, size.width, out)
    }

    /// native: each side rounded up to `multiple`, and at least `minimum` (itself rounded up).
    public static func nativeSize(_ photo: Size, multiple: Int = 1, minimum: Int = 1) throws -> Size {
        try photo.check("photo")
        guard multiple >= 1, minimum >= 1 else {
            throw CoreError("size multiple and minimum must be positive, got \(multiple), \(minimum)")
        }
        func up(_ a: Int) -> Int { (a + multiple - 1) / multiple * multiple }
        return Size(height: max(up(photo.height), up(minimum)), width: max(up(photo.width), up(minimum)))
    }
}

/// How the app meets a photo with a fixed-size artifact.
public enum Mode: String, CaseIterable, Sendable {
    case fit
    case tile
}
