// The core's other parts: .npy and PNG files, manifest reading, the pipeline around a runtime
// (with stand-in runners: Core ML does not exist here), latency statistics, the self-test's PSNR.

import Foundation
import XCTest

@testable import Pix2MobileCore

// ------------------------------------------------------------------------------------ fixtures

func photo(height: Int, width: Int, seed: UInt64 = 7) -> RGBImage {
    var s = seed
    let pixels = (0..<(height * width * 3)).map { _ -> UInt8 in
        s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: s >> 56)
    }
    return try! RGBImage(height: height, width: width, pixels: pixels)
}

func entry(_ json: String) throws -> ArtifactEntry {
    try JSONDecoder().decode(ArtifactEntry.self, from: Data(json.utf8))
}

func tensorRow(layout: String = "NCHW", range: String = "[-1.0, 1.0]", colour: String? = nil, size: Int = 32) -> String
{
    let shape = layout == "NCHW" ? "[1, 3, \(size), \(size)]" : "[1, \(size), \(size), 3]"
    let c = colour.map { #", "color_layout": "\#($0)""# } ?? ""
    return """
        {"format": "mlpackage", "precision": "fp32", "status": "ok", "file": "m.mlpackage",
         "inputs": [{"name": "image", "shape": \(shape), "layout": "\(layout)", "range": \(range)\(c)}],
         "outputs": [{"name": "out", "shape": \(shape), "layout": "\(layout)", "range": \(range)\(c)}]}
        """
}

/// Returns its image input as its output (a perfect "generator" to test the plumbing with).
final class Identity: ModelRunner {
    let io: ArtifactIO
    var calls = 0
    init(_ io: ArtifactIO) { self.io = io }

    func predict(_ inputs: [String: FeatureValue]) throws -> [String: FeatureValue] {
        calls += 1
        return [io.output.name: inputs[io.imageInput!.name]!]
    }
}

final class Constant: ModelRunner {
    let value: [String: FeatureValue]
    init(_ value: [String: FeatureValue]) { self.value = value }
    func predict(_ inputs: [String: FeatureValue]) throws -> [String: FeatureValue] { value }
}

// ------------------------------------------------------------------------------------ .npy

final class NpyTests: XCTestCase {
    func testRoundTripsEveryDtype() throws {
        let arrays = [
            try NpyArray(shape: [2, 3, 4], storage: .uint8((0..<24).map(UInt8.init))),
            try NpyArray(shape: [1, 3], storage: .float32([-0.0, .infinity, .nan])),
            try NpyArray(shape: [3], storage: .float64([1.5, -2, 1e300])),
            try NpyArray(shape: [], storage: .float32([7])),
        ]
        for a in arrays {
            let data = a.data()
            let headerEnd = 10 + Int(data[8]) + Int(data[9]) << 8
            XCTAssertEqual(headerEnd % 64, 0)  // numpy's alignment
            XCTAssertEqual(data[headerEnd - 1], UInt8(ascii: "\n"))
            let b = try NpyArray.parse(data)
            XCTAssertEqual(b.shape, a.shape)
            XCTAssertEqual(b.descr, a.descr)
            if case .float32(let v) = a.storage {  // NaN != NaN: compare bits
                XCTAssertEqual(v.map(\.bitPattern), b.float32!.map(\.bitPattern))
            } else {
                XCTAssertEqual(b, a)
            }
        }
        let header = String(decoding: arrays[2].data()[10..<70], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"), header)
    }

    func testRefusesWhatItCannotRead() throws {
        func npy(_ header: String, body: [UInt8] = [0, 0, 0, 0]) -> Data {
            var h = Array(header.utf8) + [UInt8(ascii: "\n")]
            h = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count), 0] + h
            return Data(h + body)
        }
        XCTAssertEqual(
            try NpyArray.parse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }")).float32, [0])
        let cases = [
            ("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "dtype >f4 is not supported"),
            ("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "Fortran-order"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "truncated .npy data"),
            ("{'descr': '<i8', 'fortran_order': False, 'shape': (0,), }", "dtype <i8 is not supported"),
        ]
        for (header, message) in cases {
            XCTAssertThrowsError(try NpyArray.parse(npy(header))) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        XCTAssertThrowsError(try NpyArray.parse(Data("PK\u{3}\u{4}zip file".utf8)))
    }

    func testPixelsFromRGBA() throws {
        let rgba = try NpyArray(shape: [1, 2, 4], storage: .uint8([1, 2, 3, 0, 4, 5, 6, 9]))
        XCTAssertEqual(try rgba.rgbImage().pixels, [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try NpyArray(shape: [1, 2, 3], storage: .float32([0, 0, 0, 0, 0, 0])).rgbImage())
    }
}

// ------------------------------------------------------------------------------------ PNG

final class PNGTests: XCTestCase {
    func testChecksums() {
        XCTAssertEqual(PNG.crc32(Array("IEND".utf8)), 0xAE42_6082)
        XCTAssertEqual(PNG.adler32(Array("Wikipedia".utf8)), 0x11E6_0398)
    }

    /// Reads back what `encode` wrote: chunks with valid CRCs, stored deflate blocks, filter 0 rows.
    func decode(_ data: Data) throws -> (width: Int, height: Int, raw: [UInt8]) {
        let b = [UInt8](data)
        XCTAssertEqual(Array(b[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        func u32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        var i = 8
        var (w, h, idat) = (0, 0, [UInt8]())
        var types: [String] = []
        while i < b.count {
            let n = u32(i)
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            let body = Array(b[(i + 8)..<(i + 8 + n)])
            XCTAssertEqual(UInt32(u32(i + 8 + n)), PNG.crc32(Array(b[(i + 4)..<(i + 8 + n)])), type)
            types.append(type)
            if type == "IHDR" {
                (w, h) = (u32(i + 8), u32(i + 12))
                XCTAssertEqual(Array(body[8...]), [8, 2, 0, 0, 0])
            }
            if type == "IDAT" { idat += body }
            i += 12 + n
        }
        XCTAssertEqual(types, ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual((Int(idat[0]) << 8 | Int(idat[1])) % 31, 0)
        var raw: [UInt8] = []
        var p = 2
        while true {
            let final = idat[p] & 1
            XCTAssertEqual(idat[p] >> 1, 0)  // stored
            let len = Int(idat[p + 1]) | Int(idat[p + 2]) << 8
            let nlen = Int(idat[p + 3]) | Int(idat[p + 4]) << 8
            XCTAssertEqual(len ^ nlen, 0xFFFF)
            raw += idat[(p + 5)..<(p + 5 + len)]
            p += 5 + len
            if final == 1 { break }
        }
        XCTAssertEqual(
            UInt32(Int(idat[p]) << 24 | Int(idat[p + 1]) << 16 | Int(idat[p + 2]) << 8 | Int(idat[p + 3])),
            PNG.adler32(raw))
        return (w, h, raw)
    }

    func testEncodesRowsInStoredBlocks() throws {
        for (h, w) in [(1, 1), (3, 2), (150, 170)] {  // the last needs two deflate blocks
            let img = photo(height: h, width: w)
            let (dw, dh, raw) = try decode(PNG.encode(img))
            XCTAssertEqual([dw, dh], [w, h])
            var rows: [UInt8] = []
            for y in 0..<h { rows += [0] + img.pixels[(y * w * 3)..<((y + 1) * w * 3)] }
            XCTAssertEqual(raw, rows)
        }
    }
}

// ------------------------------------------------------------------------------------ manifests

final class ManifestTests: XCTestCase {
    let manifest = """
        {"schema_version": 1, "pix2mobile_version": "0.1.0", "created_at": "2026-11-30T00:00:00Z", "ok": true,
         "model": {"family": "bicyclegan", "arch": "unet_128", "options": {"ngf": 8}, "size": [128, 128],
                   "direction": null, "size_multiple": 128, "min_size": 128, "future_field": [1, 2]},
         "io": {}, "parity_images": [],
         "artifacts": [
          {"format": "mlmodel", "precision": "fp32", "status": "failed", "file": null, "reason": "boom"},
          {"format": "mlmodel", "precision": "fp32", "status": "ok", "file": "unet_128_fp32.mlmodel",
           "inputs": [{"name": "image", "shape": [1, 3, 128, 128], "layout": "NCHW", "dtype": "uint8",
                       "range": [0.0, 255.0], "color_layout": "RGB"},
                      {"name": "z", "shape": [1, 8], "layout": "NC", "dtype": "float32", "range": [-3.0, 3.0]}],
           "outputs": [{"name": "translated", "shape": [1, 3, 128, 128], "layout": "NCHW", "dtype": "uint8",
                        "range": [0.0, 255.0], "color_layout": "RGB"}],
           "parity": {"psnr_db": 100.0, "threshold_db": 45.0}, "shapes": {"kind": "fixed"}}]}
        """

    func testReadsWhatAnAppNeeds() throws {
        let m = try Manifest.parse(Data(manifest.utf8))
        XCTAssertEqual(m.model.family, "bicyclegan")
        XCTAssertEqual(m.model.size, Size(height: 128, width: 128))
        XCTAssertEqual(m.model.sizeMultiple, 128)
        let row = try m.artifact(format: "mlmodel")
        XCTAssertTrue(row.ok)  // the failed row of the same format is skipped
        let io = try ArtifactIO(row)
        XCTAssertEqual(io.modelSize, Size(height: 128, width: 128))
        XCTAssertTrue(io.imageInput!.isPixelImage)
        XCTAssertEqual(io.latentInput?.name, "z")
        XCTAssertNil(io.scalarInput)
        XCTAssertEqual(row.parity?.thresholdDb, 45)
        XCTAssertEqual(try row.path(in: URL(fileURLWithPath: "/m")).path, "/m/unet_128_fp32.mlmodel")
        XCTAssertThrowsError(try m.artifact(format: "mlpackage")) {
            XCTAssertTrue("\($0)".contains("it has: mlmodel fp32"), "\($0)")
        }
    }

    func testRefusesOtherMajorVersionsAndBadRows() throws {
        XCTAssertEqual(
            try Manifest.parse(
                Data(
                    manifest.replacingOccurrences(
                        of: "\"schema_version\": 1",
                        with: "\"schema_version\": \"1.3\""
                    ).utf8)
            ).schemaVersion, 1)
        let cases = [
            ("\"schema_version\": 1", "\"schema_version\": 2", "schema_version 2 is not supported"),
            ("\"layout\": \"NC\"", "\"layout\": \"CN\"", "layout CN is not one of"),
            ("\"status\": \"failed\"", "\"status\": \"maybe\"", "status must be 'ok' or 'failed'"),
            ("\"created_at\"", "\"made_at\"", "no field 'created_at'"),
        ]
        for (old, new, message) in cases {
            let text = manifest.replacingOccurrences(of: old, with: new)
            XCTAssertThrowsError(try Manifest.parse(Data(text.utf8))) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
        XCTAssertThrowsError(try Manifest.parse(Data("[1, 2".utf8))) {
            XCTAssertTrue("\($0)".contains("JSON"), "\($0)")
        }
        for file in ["../x.mlmodel", "/etc/passwd", "a/../../b"] {
            var row = try entry(tensorRow())
            row.file = file
            XCTAssertThrowsError(try row.path(in: URL(fileURLWithPath: "/m"))) {
                XCTAssertTrue("\($0)".contains("not inside the export folder"), "\($0)")
            }
        }
    }
}

// ------------------------------------------------------------------------------------ pipeline

final class PipelineTests: XCTestCase {
    func testTileWithAPerfectModelGivesThePhotoBack() throws {
        // blending identical tiles must not move a level, in every layout and I/O style
        for row in [
            tensorRow(), tensorRow(layout: "NHWC", range: "[0.0, 1.0]"),
            tensorRow(range: "[0.0, 255.0]", colour: "RGB"),
        ] {
            let io = try ArtifactIO(try entry(row))
            let runner = Identity(io)
            let translator = try Translator(entry: io.entry, runner: runner)
            let p = photo(height: 45, width: 71)
            let (out, timing) = try translator.apply(p, mode: .tile, overlap: Size(height: 8, width: 8))
            XCTAssertEqual(out, p)
            XCTAssertEqual(
                runner.calls,
                try TilePlan(photo: p.size, tile: io.modelSize, overlap: Size(height: 8, width: 8)).boxes.count)
            XCTAssertGreaterThan(runner.calls, 1)
            XCTAssertGreaterThanOrEqual(timing.predictionMs, 0)
            XCTAssertEqual(timing.totalMs, timing.preprocessMs + timing.predictionMs + timing.postprocessMs)
        }
    }

    func testFitIsTheContractsFit() throws {
        let io = try ArtifactIO(try entry(tensorRow()))
        let p = photo(height: 50, width: 37)
        let (out, _) = try Translator(entry: io.entry, runner: Identity(io)).apply(p)
        let plan = try FitPlan(photo: p.size, model: io.modelSize)
        XCTAssertEqual(out, try plan.result(try plan.canvas(p)))
        XCTAssertEqual(out.size, p.size)
    }

    func testFeedsImageInputsAsTheManifestSays() throws {
        let pixelIO = try ArtifactIO(try entry(tensorRow(range: "[0.0, 255.0]", colour: "RGB")))
        let canvas = photo(height: 32, width: 32)
        XCTAssertEqual(try pixelIO.inputFeature(canvas), .image(canvas))
        let tensorIO = try ArtifactIO(try entry(tensorRow(layout: "NHWC")))
        guard case .tensor(let shape, let values) = try tensorIO.inputFeature(canvas) else { return XCTFail() }
        XCTAssertEqual(shape, [1, 32, 32, 3])
        XCTAssertEqual(values[0], Float(canvas.pixels[0]) * 2 / 255 - 1)
        XCTAssertThrowsError(try tensorIO.inputFeature(photo(height: 31, width: 32)))
    }

    func testRuntimeMistakesAreErrors() throws {
        let io = try ArtifactIO(try entry(tensorRow()))
        let p = photo(height: 40, width: 40)
        let wrongName = try Translator(entry: io.entry, runner: Constant(["other": .tensor(shape: [1], values: [0])]))
        XCTAssertThrowsError(try wrongName.apply(p)) { XCTAssertTrue("\($0)".contains("no output 'out'"), "\($0)") }
        let wrongShape = try Translator(
            entry: io.entry,
            runner: Constant(["out": .tensor(shape: [1, 3, 16, 16], values: .init(repeating: 0, count: 768))]))
        XCTAssertThrowsError(try wrongShape.apply(p)) {
            XCTAssertTrue("\($0)".contains("has shape [1, 3, 16, 16]"), "\($0)")
        }
    }

    func testMorphRendersWithoutAPhoto() throws {
        let row = """
            {"format": "mlpackage", "precision": "fp32", "status": "ok", "file": "m.mlpackage",
             "inputs": [{"name": "alpha", "shape": [1], "layout": "N", "range": [0.0, 1.0]}],
             "outputs": [{"name": "image", "shape": [1, 3, 2, 2], "layout": "NCHW", "range": [0.0, 1.0]}]}
            """
        let io = try ArtifactIO(try entry(row))
        XCTAssertNil(io.imageInput)
        XCTAssertEqual(io.scalarInput?.name, "alpha")
        XCTAssertEqual(io.modelSize, Size(height: 2, width: 2))
        let values: [Float] = [0, 0.5, 1, 2, -1, .nan, 0.25, 0.75, 1, 1, 1, 1]
        let t = try Translator(
            entry: io.entry, runner: Constant(["image": .tensor(shape: [1, 3, 2, 2], values: values)]))
        let (img, _) = try t.render(["alpha": .tensor(shape: [1], values: [0.5])])
        // pixel (y, x) = (R, G, B) from channels 0, 1, 2: overshoot clamps, NaN is 0, 0.5 rounds half up
        XCTAssertEqual(img.pixels, [0, 0, 255, 128, 0, 255, 255, 64, 255, 255, 191, 255])
        XCTAssertThrowsError(try t.apply(photo(height: 4, width: 4))) {
            XCTAssertTrue("\($0)".contains("takes no photo"))
        }
    }

    func testLatentDrawsRepeatWithTheSeedAndStayInRange() {
        let info = TensorInfo(name: "z", shape: [1, 8], layout: .nc, range: ValueRange(-0.5, 0.5))
        var a = LatentSampler(seed: 3)
        var b = LatentSampler(seed: 3)
        XCTAssertEqual(a.draw(info), b.draw(info))
        guard case .tensor(let shape, let values) = a.draw(info) else { return XCTFail() }
        XCTAssertEqual(shape, [1, 8])
        XCTAssertTrue(values.allSatisfy { -0.5...0.5 ~= $0 })
        var c = LatentSampler(seed: 9)
        let normals = (0..<20000).map { _ in c.normal() }
        XCTAssertEqual(LatencyStats.mean(normals), 0, accuracy: 0.03)
        XCTAssertEqual(LatencyStats.std(normals), 1, accuracy: 0.03)
    }

    func testPlansRefuseBadSizes() {
        XCTAssertThrowsError(try FitPlan(photo: Size(height: 0, width: 3), model: Size(height: 4, width: 4)))
        XCTAssertThrowsError(
            try TilePlan(
                photo: Size(height: 9, width: 9), tile: Size(height: 4, width: 4),
                overlap: Size(height: 4, width: 0))
        ) { XCTAssertTrue("\($0)".contains("between 0 and the tile side - 1 (3)")) }
        XCTAssertThrowsError(try Resampler.resize(photo(height: 2, width: 2), to: Size(height: 0, width: 1)))
    }
}

// ------------------------------------------------------------------------------------ statistics

final class StatisticsTests: XCTestCase {
    func testLatencyStatsAsTheBenchmarkReportsThem() {
        let s = LatencyStats([1, 2, 3, 4, 100])
        XCTAssertEqual(s.medianMs, 3)
        XCTAssertEqual(s.p90Ms!, 61.6, accuracy: 1e-9)  // numpy.percentile, linear
        XCTAssertEqual(s.minMs, 1)
        XCTAssertEqual(s.meanMs!, 22, accuracy: 1e-12)  // 100 is within 3 sigma of 5 samples
        let clipped = LatencyStats([Double](repeating: 10, count: 20) + [1000])
        XCTAssertEqual(clipped.meanMs, 10)  // beyond 3 sigma: dropped
        XCTAssertEqual(clipped.stdMs, 0)
        XCTAssertEqual(clipped.runs, 21)
        let none = LatencyStats([])
        XCTAssertNil(none.meanMs)  // not measured is nil, never 0
        XCTAssertEqual(none.summary, "not measured")
        XCTAssertEqual(LatencyStats([2, 4]).summary, "3.0 ± 1.0 ms (median 3.0, n=2)")
    }

    func testTimeRunsWarmsUpThenRunsAtLeastMinRuns() {
        var calls = 0
        let t = timeRuns(warmup: 2, minRuns: 5, minSeconds: 0) { () -> Timing in
            calls += 1
            return Timing(preprocessMs: 1, predictionMs: 2, postprocessMs: 3)
        }
        XCTAssertEqual(calls, 7)
        XCTAssertEqual(t.count, 5)
        XCTAssertEqual(SplitLatency(t).prediction.meanMs, 2)
    }

    func testSelfTestPSNRFollowsParity() {
        let a: [Double] = (0..<100).map { Double($0) / 99 }
        XCTAssertEqual(SelfTest.psnr(a, a), 100)  // capped
        let b = a.map { min(1, $0 + 0.01) }
        var sum = 0.0
        for (x, y) in zip(a, b) { sum += (x - y) * (x - y) }
        let mse = sum / 100
        XCTAssertEqual(SelfTest.psnr(a, b), 10 * log10(1 / mse), accuracy: 1e-9)
        // a nearly flat reference is judged on its own peak-to-peak range, as parity.py does
        let flat = [Double](repeating: 0.5, count: 50) + [Double](repeating: 0.6, count: 50)
        let off = flat.map { $0 + 0.01 }
        XCTAssertEqual(SelfTest.psnr(flat, off), 10 * log10(0.01 / 0.0001), accuracy: 1e-6)
        XCTAssertEqual(SelfTest.psnr(a, a.map { _ in .nan }), -.infinity)
    }
}
