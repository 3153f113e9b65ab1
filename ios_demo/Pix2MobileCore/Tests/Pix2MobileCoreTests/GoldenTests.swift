// The Swift core reproduces tests/golden/ (docs/preprocessing.md), case for case as Python's
// tests/apply/test_golden.py: plans equal, pixels equal, tensors bit-equal (UInt32 bit patterns).
// Each result comparison prints the largest pixel difference it saw (the contract allows 1 level
// for platforms that reassociate sums; this implementation is expected to be exact, and is held to 0).

import Foundation
import XCTest

@testable import Pix2MobileCore

/// tests/golden/ of this checkout (or $PIX2MOBILE_GOLDEN).
let goldenRoot: URL = {
    if let env = ProcessInfo.processInfo.environment["PIX2MOBILE_GOLDEN"] { return URL(fileURLWithPath: env) }
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<5 { url.deleteLastPathComponent() }  // Tests/Pix2MobileCoreTests/X.swift -> repo root
    return url.appendingPathComponent("tests/golden")
}()

func golden(_ parts: String...) -> URL { parts.reduce(goldenRoot) { $0.appendingPathComponent($1) } }

func load(_ parts: String...) throws -> NpyArray {
    try NpyArray.read(parts.reduce(goldenRoot) { $0.appendingPathComponent($1) })
}

func caseJSON<T: Decodable>(_ type: T.Type, _ parts: String...) throws -> T {
    let url = parts.reduce(goldenRoot) { $0.appendingPathComponent($1) }.appendingPathComponent("case.json")
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

struct IOCase: Decodable {
    struct Tensor: Decodable {
        var name: String
        var kind: String
        var range: ValueRange
    }
    var inputs: [Tensor]
    var outputs: [Tensor]
}

struct FitCase: Decodable {
    var family: String
    var model: Size
    var io: IOCase
    var plan: FitPlan
}

struct MorphCase: Decodable {
    var io: IOCase
    var alpha: Double
}

struct NativeCase: Decodable {
    var photo: Size
    var multiple: Int
    var minimum: Int
    var padded: Size
    var io: IOCase
}

struct TileCase: Decodable {
    var plan: TilePlan
    var io: IOCase
}

struct LargeTileCase: Decodable {
    var photo: Size
    var tile: Size
    var plan: TilePlan
}

struct ResizeCases: Decodable {
    struct One: Decodable {
        var `in`: Size
        var out: Size
        var xFirst: [Int]
        var xWeights: [[Double]]

        enum CodingKeys: String, CodingKey {
            case `in`, out
            case xFirst = "x_first"
            case xWeights = "x_weights"
        }
    }
    var cases: [One]
}

struct PixelCases: Decodable {
    struct One: Decodable {
        var range: ValueRange
        var tensor: String
        var values: String
        var pixels: String
    }
    var levels: String
    var cases: [One]
}

func assertBitsEqual(
    _ mine: ImageTensor, _ golden: NpyArray, _ what: String, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(mine.shape, golden.shape, "\(what): shape", file: file, line: line)
    guard let g = golden.float32 else {
        return XCTFail("\(what): golden is \(golden.descr), not <f4", file: file, line: line)
    }
    let differ = zip(mine.values, g).filter { $0.bitPattern != $1.bitPattern }.count
    XCTAssertEqual(differ, 0, "\(what): \(differ) of \(g.count) values differ in their bits", file: file, line: line)
}

/// Largest |difference| in levels between two images (-1 when their shapes differ).
func maxDiff(_ a: RGBImage, _ b: NpyArray) -> Int {
    guard let bytes = b.uint8, b.shape == [a.height, a.width, 3] else { return -1 }
    return zip(a.pixels, bytes).map { abs(Int($0) - Int($1)) }.max() ?? 0
}

func assertSameImage(
    _ mine: RGBImage, _ golden: NpyArray, _ what: String, file: StaticString = #filePath, line: UInt = #line
) {
    let d = maxDiff(mine, golden)
    print("golden \(what): largest pixel difference \(d)")
    XCTAssertEqual(
        d, 0, "\(what): shape \([mine.height, mine.width, 3]) vs \(golden.shape), largest difference \(d)",
        file: file, line: line)
}

func image(_ array: NpyArray) throws -> RGBImage { try array.rgbImage() }

func tensor(_ array: NpyArray, _ layout: Layout) throws -> ImageTensor {
    let s = array.shape
    let (h, w) = layout == .nchw ? (s[2], s[3]) : (s[1], s[2])
    return try ImageTensor(layout: layout, height: h, width: w, values: array.float32 ?? [])
}

final class GoldenTests: XCTestCase {
    func testPhotoIsTheGoldenPhoto() throws {
        let photo = try load("photo.npy")
        XCTAssertEqual(photo.shape, [250, 333, 3])
        XCTAssertEqual(photo.descr, "|u1")
        let levels = photo.uint8!.map(Double.init)
        XCTAssertGreaterThan(LatencyStats.std(levels), 20)  // a photograph, not a flat test card
    }

    func testFitCases() throws {
        for family in ["fast_style", "cyclegan", "bicyclegan"] {
            let c = try caseJSON(FitCase.self, family)
            let photo = try image(load("photo.npy"))
            let plan = try FitPlan(photo: photo.size, model: c.model)
            XCTAssertEqual(plan, c.plan, family)
            let canvas = try plan.canvas(photo)
            assertSameImage(canvas, try load(family, "canvas.npy"), "\(family) canvas")
            let inRange = c.io.inputs[0].range
            assertBitsEqual(
                try Pixels.tensor(canvas, range: inRange, layout: .nchw), try load(family, "input_nchw.npy"),
                "\(family) input_nchw")
            assertBitsEqual(
                try Pixels.tensor(canvas, range: inRange, layout: .nhwc), try load(family, "input_nhwc.npy"),
                "\(family) input_nhwc")
            let outRange = c.io.outputs[0].range
            let pixels = Pixels.image(try tensor(load(family, "output_nchw.npy"), .nchw), range: outRange)
            assertSameImage(pixels, try load(family, "output_pixels.npy"), "\(family) output_pixels")
            XCTAssertEqual(Pixels.image(try tensor(load(family, "output_nhwc.npy"), .nhwc), range: outRange), pixels)
            let result = try plan.result(pixels)
            XCTAssertEqual(result.size, photo.size)
            assertSameImage(result, try load(family, "result.npy"), "\(family) result")
        }
    }

    func testMorphCase() throws {
        let c = try caseJSON(MorphCase.self, "morph")
        XCTAssertEqual(try load("morph", "alpha.npy").float32, [Float(c.alpha)])
        let pixels = Pixels.image(try tensor(load("morph", "output_nchw.npy"), .nchw), range: c.io.outputs[0].range)
        assertSameImage(pixels, try load("morph", "output_pixels.npy"), "morph output_pixels")
        assertSameImage(pixels, try load("morph", "result.npy"), "morph result")
    }

    func testNativeCase() throws {
        let c = try caseJSON(NativeCase.self, "native")
        let photo = try image(load("native", "photo.npy"))
        XCTAssertEqual(photo.size, c.photo)
        let size = try Plans.nativeSize(photo.size, multiple: c.multiple, minimum: c.minimum)
        XCTAssertEqual(size, c.padded)
        XCTAssertNotEqual(size, photo.size)  // the case does pad
        let canvas = Plans.padEdge(photo, to: size)
        assertSameImage(canvas, try load("native", "canvas.npy"), "native canvas")
        assertBitsEqual(
            try Pixels.tensor(canvas, range: c.io.inputs[0].range, layout: .nchw),
            try load("native", "input_nchw.npy"), "native input_nchw")
        let out = Pixels.image(try tensor(load("native", "output_nchw.npy"), .nchw), range: c.io.outputs[0].range)
        let result = out.crop(top: 0, left: 0, height: photo.height, width: photo.width)
        assertSameImage(result, try load("native", "result.npy"), "native result")
    }

    func testTileCase() throws {
        let c = try caseJSON(TileCase.self, "tile")
        let photo = try image(load("tile", "photo.npy"))
        let plan = try TilePlan(photo: photo.size, tile: c.plan.tile, overlap: c.plan.overlap)
        XCTAssertEqual(plan, c.plan)
        XCTAssertEqual(plan.ys.count * plan.xs.count, 6)
        XCTAssertEqual(plan.padded, photo.size)
        let tiles = try plan.tiles(photo)
        let stored = try load("tile", "tile_pixels.npy")
        XCTAssertEqual(stored.shape, [6, 64, 64, 3])
        XCTAssertEqual(tiles.flatMap(\.pixels), stored.uint8)
        let outputs = try load("tile", "tile_outputs_nchw.npy")
        let per = 3 * 64 * 64
        let values = outputs.float32!
        let tensors = try (0..<outputs.shape[0]).map {
            try ImageTensor(layout: .nchw, height: 64, width: 64, values: Array(values[($0 * per)..<(($0 + 1) * per)]))
        }
        let result = try plan.blend(tensors, range: c.io.outputs[0].range)
        assertSameImage(result, try load("tile", "result.npy"), "tile result")
    }

    func testLargeTilePlan() throws {
        let url = golden("tile", "plan_large.json")
        let big = try JSONDecoder().decode(LargeTileCase.self, from: Data(contentsOf: url))
        let plan = try TilePlan(photo: big.photo, tile: big.tile)
        XCTAssertEqual(plan, big.plan)
        XCTAssertEqual(plan.ys.first, 0)
        XCTAssertEqual(plan.ys.last, 3024 - 256)
        XCTAssertEqual(plan.xs.last, 4032 - 256)
        let overlaps = zip(plan.xs, plan.xs.dropFirst()).map { 256 - ($1 - $0) }
        XCTAssertGreaterThanOrEqual(overlaps.min()!, 64)  // every overlap at least the requested 64
    }

    func testResizeCases() throws {
        let c = try caseJSON(ResizeCases.self, "resize")
        XCTAssertEqual(c.cases.count, 2)
        for (k, rc) in c.cases.enumerated() {
            let input = try image(load("resize", "case\(k)_in.npy"))
            XCTAssertEqual(input.size, rc.in)
            let out = try Resampler.resize(input, to: rc.out)
            assertSameImage(out, try load("resize", "case\(k)_out.npy"), "resize case\(k)")
            let (firsts, weights) = try Resampler.axisWeights(from: rc.in.width, to: rc.out.width)
            XCTAssertEqual(firsts, rc.xFirst)
            XCTAssertEqual(weights, rc.xWeights)  // exactly: same f64 operations, same order
        }
    }

    func testPixelCases() throws {
        let c = try caseJSON(PixelCases.self, "pixels")
        let levels = try image(load("pixels", c.levels))
        XCTAssertEqual(levels.size, Size(height: 1, width: 256))
        for rc in c.cases {
            let t = try Pixels.tensor(levels, range: rc.range, layout: .nchw)
            assertBitsEqual(t, try load("pixels", rc.tensor), "pixels \(rc.tensor)")
            let values = try load("pixels", rc.values)
            let edge = Pixels.image(try tensor(values, .nchw), range: rc.range)
            assertSameImage(edge, try load("pixels", rc.pixels), "pixels \(rc.pixels)")
            // every range round-trips all 256 levels
            XCTAssertEqual(Pixels.image(t, range: rc.range), levels, "round trip \(rc.range)")
        }
        // [0, 255] gives the integers back
        let ints = try Pixels.tensor(levels, range: ValueRange(0, 255), layout: .nhwc)
        XCTAssertEqual(ints.values, levels.pixels.map(Float.init))
    }
}
