// pix2mobile-core: the iOS core's pre/post-processing from the command line, with the same
// commands and flags as the Android core's jar, so CI can hold both to Python's output.
//
//   pix2mobile-core preprocess EXPORT_DIR IMAGE OUT.npy --format F [--mode fit|tile]
//   pix2mobile-core postprocess EXPORT_DIR TENSOR.npy OUT.png --format F --like IMAGE [--mode fit|tile]
//   pix2mobile-core selftest MODELS_DIR
//
// Errors print one line to stderr and exit 2.

import Foundation
import Pix2MobileCore

let usage = """
    usage:
      pix2mobile-core preprocess EXPORT_DIR IMAGE OUT.npy --format F [--mode fit|tile] [options]
      pix2mobile-core postprocess EXPORT_DIR TENSOR.npy OUT.png|OUT.npy --format F --like IMAGE [--mode fit|tile] [options]
      pix2mobile-core selftest MODELS_DIR

    preprocess: IMAGE -> the model's image input, as the artifact of format F in EXPORT_DIR takes it
      (its manifest row decides layout and range; a Core ML image input, color_layout RGB, takes raw
      pixels: range [0, 255]). Written as float32 .npy: fit (1, 3, H, W) or (1, H, W, 3); tile
      (N, 3, H, W) or (N, H, W, 3), the tiles rows first.
    postprocess: the model's output tensor(s) (float32 or uint8 .npy, in the artifact's output layout
      and range; tile: one per tile, stacked) -> the result at the size of IMAGE (--like). The morph
      takes no photo: no --like, its output is shown at the model's size.
    selftest: every model `pix2mobile bundle --ios` put in MODELS_DIR: the app's pre-processing of the
      golden photo must reproduce the golden inputs exactly (predictions need Core ML: an Apple device).

    options:
      --format F        mlpackage, mlmodel (any format the manifest lists)
      --precision P     the artifact's precision when the folder has several of format F
      --direction D     a2b or b2a, for a CycleGAN export folder holding both (default a2b)
      --mode M          fit (default) or tile
      --overlap N       tile overlap in pixels (default: a quarter of the tile)

    IMAGE: .npy uint8 (H, W, 3|4)\(ImageSupport.extra); OUT: .npy (uint8 H x W x 3) or .png.
    """

enum ImageSupport {
    #if canImport(ImageIO) && canImport(CoreGraphics)
        static let extra = ", or a photo file ImageIO reads (PNG, JPEG, HEIC)"
    #else
        static let extra = " (this build has no image decoder: no ImageIO on this platform)"
    #endif
}

struct Args {
    var positional: [String] = []
    var flags: [String: String] = [:]

    init(_ argv: [String]) throws {
        let known: Set = ["--format", "--precision", "--direction", "--mode", "--overlap", "--like"]
        var i = 0
        while i < argv.count {
            let a = argv[i]
            if a.hasPrefix("--") {
                let parts = a.split(separator: "=", maxSplits: 1).map(String.init)
                guard known.contains(parts[0]) else { throw CoreError("unknown option \(parts[0])\n\n\(usage)") }
                if parts.count == 2 {
                    flags[parts[0]] = parts[1]
                } else {
                    guard i + 1 < argv.count else { throw CoreError("\(a) needs a value") }
                    flags[a] = argv[i + 1]
                    i += 1
                }
            } else {
                positional.append(a)
            }
            i += 1
        }
    }

    func mode() throws -> Mode {
        let text = flags["--mode"] ?? "fit"
        guard let m = Mode(rawValue: text) else { throw CoreError("--mode must be fit or tile, got \(text)") }
        return m
    }

    func overlap() throws -> Size? {
        guard let text = flags["--overlap"] else { return nil }
        guard let n = Int(text), n >= 0 else {
            throw CoreError("--overlap must be a non-negative integer, got \(text)")
        }
        return Size(height: n, width: n)
    }
}

/// An export folder (or a CycleGAN export holding a2b/ and b2a/) and its artifact of `--format`.
func artifact(_ folder: String, _ args: Args) throws -> ArtifactIO {
    guard let format = args.flags["--format"] else { throw CoreError("--format is required (e.g. --format mlpackage)") }
    var url = URL(fileURLWithPath: folder)
    let fm = FileManager.default
    if !fm.fileExists(atPath: url.appendingPathComponent(Manifest.fileName).path) {
        let direction = args.flags["--direction"] ?? "a2b"
        let sub = url.appendingPathComponent(direction)
        if fm.fileExists(atPath: sub.appendingPathComponent(Manifest.fileName).path) {
            url = sub
        } else if args.flags["--direction"] != nil {
            throw CoreError("\(folder) has no \(direction)/\(Manifest.fileName)")
        }
    } else if let d = args.flags["--direction"] {
        let m = try Manifest.read(url)
        guard m.model.direction == d else {
            throw CoreError("\(folder) holds \(m.model.family) \(m.model.direction ?? "(no direction)"), not \(d)")
        }
    }
    let manifest = try Manifest.read(url)
    return try ArtifactIO(try manifest.artifact(format: format, precision: args.flags["--precision"]))
}

func readImage(_ path: String) throws -> RGBImage {
    let url = URL(fileURLWithPath: path)
    if url.pathExtension.lowercased() == "npy" {
        do { return try NpyArray.read(url).rgbImage() } catch let e as CoreError {
            throw CoreError(e.message.hasPrefix(path) ? e.message : "\(path): \(e.message)")
        }
    }
    #if canImport(ImageIO) && canImport(CoreGraphics)
        return try ImageFile.read(url)
    #else
        throw CoreError("\(path): on this platform IMAGE must be a .npy of uint8 pixels (H, W, 3|4); no ImageIO here")
    #endif
}

func writeImage(_ image: RGBImage, _ path: String) throws {
    let url = URL(fileURLWithPath: path)
    switch url.pathExtension.lowercased() {
    case "npy": try NpyArray(image).write(url)
    case "png": try PNG.write(image, to: url)
    default: throw CoreError("\(path): write .png or .npy")
    }
}

func preprocess(_ args: Args) throws {
    guard args.positional.count == 3 else { throw CoreError("preprocess takes EXPORT_DIR IMAGE OUT.npy\n\n\(usage)") }
    let io = try artifact(args.positional[0], args)
    guard io.imageInput != nil else {
        throw CoreError(
            "\(io.entry.format) \(io.entry.precision) takes no photo (inputs: "
                + "\(io.entry.inputs.map(\.name).joined(separator: ", "))); nothing to pre-process")
    }
    let photo = try readImage(args.positional[1])
    let job = try PhotoJob.prepare(photo, model: io.modelSize, mode: try args.mode(), overlap: try args.overlap())
    let tensors = try job.canvases.map { try io.inputTensor($0) }
    var shape = tensors[0].shape
    shape[0] = tensors.count
    let array = try NpyArray(shape: shape, storage: .float32(tensors.flatMap(\.values)))
    let out = URL(fileURLWithPath: args.positional[2])
    guard out.pathExtension.lowercased() == "npy" else { throw CoreError("\(out.path): preprocess writes a .npy") }
    try array.write(out)
}

func postprocess(_ args: Args) throws {
    guard args.positional.count == 3 else {
        throw CoreError("postprocess takes EXPORT_DIR TENSOR.npy OUT.png\n\n\(usage)")
    }
    let io = try artifact(args.positional[0], args)
    let array = try NpyArray.read(URL(fileURLWithPath: args.positional[1]))
    let size = io.output.imageSize!
    let per = 3 * size.height * size.width
    let expected = io.output.layout == .nchw ? [3, size.height, size.width] : [size.height, size.width, 3]
    guard array.shape.count == 4, Array(array.shape.dropFirst()) == expected, array.shape[0] >= 1 else {
        throw CoreError(
            "\(args.positional[1]) has shape \(array.shape); output \(io.output.name) is \(io.output.layout.rawValue) "
                + "(N, \(expected.map(String.init).joined(separator: ", ")))")
    }
    let values = array.floats
    let tensors = try (0..<array.shape[0]).map { k in
        try ImageTensor(
            layout: io.output.layout, height: size.height, width: size.width,
            values: Array(values[(k * per)..<((k + 1) * per)]))
    }
    let result: RGBImage
    if io.imageInput == nil {
        guard args.flags["--like"] == nil, args.flags["--mode"] == nil else {
            throw CoreError(
                "this model takes no photo (the morph): drop --like/--mode; its output is shown at its size")
        }
        guard tensors.count == 1 else { throw CoreError("expected one output, got \(tensors.count)") }
        result = Pixels.image(tensors[0], range: io.output.range)
    } else {
        guard let like = args.flags["--like"] else { throw CoreError("--like IMAGE is required: the photo's size") }
        let photo = try readImage(like)
        let job = try PhotoJob.prepare(photo, model: io.modelSize, mode: try args.mode(), overlap: try args.overlap())
        guard job.canvases.count == tensors.count else {
            throw CoreError(
                "\(args.positional[1]) holds \(tensors.count) outputs; this plan runs \(job.canvases.count)")
        }
        result = try job.finish(tensors, range: io.output.range)
    }
    try writeImage(result, args.positional[2])
}

func selftest(_ args: Args) throws -> Bool {
    guard args.positional.count == 1 else { throw CoreError("selftest takes MODELS_DIR") }
    let catalog = Catalog(root: URL(fileURLWithPath: args.positional[0]))
    for p in catalog.problems { print("FAIL \(p)") }
    if catalog.models.isEmpty && catalog.problems.isEmpty {
        throw CoreError("\(args.positional[0]): no bundled models (run pix2mobile bundle EXPORT... --ios ios_demo)")
    }
    var ok = catalog.problems.isEmpty
    for model in catalog.models {
        for a in model.index.artifacts {
            let r = SelfTest.run(
                model, a, runner: nil, noRunnerReason: "prediction needs Core ML (an Apple device or Mac)")
            if let failure = r.failure {
                ok = false
                print("FAIL \(r.id): \(failure)")
            } else {
                print("ok   \(r.id): pre-processing reproduces the golden input; \(r.skippedPrediction ?? "")")
            }
        }
    }
    return ok
}

func main() -> Int32 {
    let argv = Array(CommandLine.arguments.dropFirst())
    guard let command = argv.first, !["-h", "--help", "help"].contains(command) else {
        print(usage)
        return argv.isEmpty ? 2 : 0
    }
    do {
        let args = try Args(Array(argv.dropFirst()))
        switch command {
        case "preprocess": try preprocess(args)
        case "postprocess": try postprocess(args)
        case "selftest": return try selftest(args) ? 0 : 1
        default: throw CoreError("unknown command \(command)\n\n\(usage)")
        }
        return 0
    } catch {
        FileHandle.standardError.write(Data("pix2mobile-core: error: \(error)\n".utf8))
        return 2
    }
}

exit(main())
