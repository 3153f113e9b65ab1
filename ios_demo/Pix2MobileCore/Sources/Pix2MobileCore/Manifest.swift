// manifest.json, the contract every consumer reads (src/pix2mobile/manifest.py): the model and,
// per artifact, each input's and output's name, shape, layout, dtype and value range. Only the
// fields an app uses are decoded; unknown fields are ignored, an unknown major schema_version is
// refused.

import Foundation

public struct Manifest: Decodable, Sendable {
    public static let fileName = "manifest.json"
    public static let schemaMajor = 1

    public var schemaVersion: Int
    public var pix2mobileVersion: String
    public var createdAt: String
    public var model: ModelInfo
    public var artifacts: [ArtifactEntry]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case pix2mobileVersion = "pix2mobile_version"
        case createdAt = "created_at"
        case model, artifacts
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // an int (what export writes) or a "MAJOR.MINOR" string
        let major: Int
        if let n = try? c.decode(Int.self, forKey: .schemaVersion) {
            major = n
        } else {
            let text = try c.decode(String.self, forKey: .schemaVersion)
            guard let n = Int(text.split(separator: ".").first ?? "") else {
                throw CoreError("manifest schema_version \(text) is not a version number")
            }
            major = n
        }
        guard major == Manifest.schemaMajor else {
            throw CoreError(
                "manifest schema_version \(major) is not supported by this app (it reads major version "
                    + "\(Manifest.schemaMajor)); re-export with a matching pix2mobile or update the app")
        }
        schemaVersion = major
        pix2mobileVersion = try c.decode(String.self, forKey: .pix2mobileVersion)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        model = try c.decode(ModelInfo.self, forKey: .model)
        artifacts = try c.decode([ArtifactEntry].self, forKey: .artifacts)
    }

    public static func parse(_ data: Data) throws -> Manifest {
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch let e as CoreError {
            throw e
        } catch let e as DecodingError {
            throw CoreError("malformed manifest (\(describe(e))); it was not written by pix2mobile export")
        } catch {
            throw CoreError("not valid JSON (\(error.localizedDescription))")
        }
    }

    /// `folder/manifest.json`, or the file itself.
    public static func read(_ url: URL) throws -> Manifest {
        let file = url.lastPathComponent == fileName ? url : url.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: file) else {
            throw CoreError("\(file.path): no such manifest; run `pix2mobile export` first")
        }
        do { return try parse(data) } catch let e as CoreError { throw CoreError("\(file.path): \(e.message)") }
    }

    /// The first passing artifact of `format` (and `precision`, when given).
    public func artifact(format: String, precision: String? = nil) throws -> ArtifactEntry {
        let ok = artifacts.filter { $0.ok }
        if let row = ok.first(where: { $0.format == format && (precision == nil || $0.precision == precision) }) {
            return row
        }
        let have = ok.map { "\($0.format) \($0.precision)" }.joined(separator: ", ")
        throw CoreError(
            "no passing \(format)\(precision.map { " " + $0 } ?? "") artifact in this export (it has: "
                + "\(have.isEmpty ? "none" : have))")
    }
}

public struct ModelInfo: Decodable, Sendable {
    public var family: String
    public var arch: String
    public var size: Size?
    public var direction: String?
    public var sizeMultiple: Int?
    public var minSize: Int?

    enum CodingKeys: String, CodingKey {
        case family, arch, size, direction
        case sizeMultiple = "size_multiple"
        case minSize = "min_size"
    }
}

public struct TensorInfo: Codable, Equatable, Sendable {
    public var name: String
    public var shape: [Int]
    public var layout: Layout
    public var dtype: String
    public var range: ValueRange
    /// "RGB" where the artifact takes or returns a platform image (Core ML image I/O: a
    /// CVPixelBuffer of raw 0...255 pixels) instead of a tensor.
    public var colorLayout: String?

    enum CodingKeys: String, CodingKey {
        case name, shape, layout, dtype, range
        case colorLayout = "color_layout"
    }

    public init(
        name: String, shape: [Int], layout: Layout, dtype: String = "float32", range: ValueRange,
        colorLayout: String? = nil
    ) {
        self.name = name
        self.shape = shape
        self.layout = layout
        self.dtype = dtype
        self.range = range
        self.colorLayout = colorLayout
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        shape = try c.decode([Int].self, forKey: .shape)
        let text = try c.decode(String.self, forKey: .layout)
        guard let l = Layout(rawValue: text) else {
            throw CoreError("tensor \(name): layout \(text) is not one of NCHW, NHWC, NC, N")
        }
        layout = l
        dtype = try c.decodeIfPresent(String.self, forKey: .dtype) ?? "float32"
        range = try c.decode(ValueRange.self, forKey: .range)
        colorLayout = try c.decodeIfPresent(String.self, forKey: .colorLayout)
    }

    /// A platform image (pixel buffer) rather than a tensor.
    public var isPixelImage: Bool { colorLayout != nil }

    /// (H, W) of an image tensor: from (1, 3, H, W) or (1, H, W, 3).
    public var imageSize: Size? {
        guard layout.isImage, shape.count == 4 else { return nil }
        return layout == .nchw ? Size(height: shape[2], width: shape[3]) : Size(height: shape[1], width: shape[2])
    }
}

public struct Parity: Decodable, Sendable {
    public var psnrDb: Double?
    public var thresholdDb: Double?

    enum CodingKeys: String, CodingKey {
        case psnrDb = "psnr_db"
        case thresholdDb = "threshold_db"
    }
}

public struct ArtifactEntry: Decodable, Sendable {
    public var format: String
    public var precision: String
    public var status: String
    public var file: String?
    public var sha256: String?
    public var reason: String?
    public var inputs: [TensorInfo]
    public var outputs: [TensorInfo]
    public var parity: Parity?

    public var ok: Bool { status == "ok" }

    /// The image input (layout NCHW or NHWC), if the model takes a photo.
    public var imageInput: TensorInfo? { inputs.first { $0.layout.isImage } }

    /// The image output every generator here returns (the first output).
    public func imageOutput() throws -> TensorInfo {
        guard let out = outputs.first, out.layout.isImage, out.imageSize != nil else {
            throw CoreError("\(format) \(precision): its first output is not an image (\(outputs.map(\.name)))")
        }
        return out
    }

    enum CodingKeys: String, CodingKey {
        case format, precision, status, file, sha256, reason, inputs, outputs, parity
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        precision = try c.decode(String.self, forKey: .precision)
        status = try c.decode(String.self, forKey: .status)
        guard status == "ok" || status == "failed" else {
            throw CoreError("artifact \(format): status must be 'ok' or 'failed', got '\(status)'")
        }
        file = try c.decodeIfPresent(String.self, forKey: .file)
        sha256 = try c.decodeIfPresent(String.self, forKey: .sha256)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        inputs = try c.decodeIfPresent([TensorInfo].self, forKey: .inputs) ?? []
        outputs = try c.decodeIfPresent([TensorInfo].self, forKey: .outputs) ?? []
        parity = try c.decodeIfPresent(Parity.self, forKey: .parity)
    }

    /// The artifact's path inside `folder`; a `file` that leaves the folder is refused, as in Python.
    public func path(in folder: URL) throws -> URL {
        guard let file, !file.isEmpty else { throw CoreError("\(format) \(precision): the manifest names no file") }
        let parts = file.split(separator: "/")
        guard !file.hasPrefix("/"), !parts.contains("..") else {
            throw CoreError("the manifest names \(file), which is not inside the export folder; refusing to read it")
        }
        return folder.appendingPathComponent(file)
    }
}

func describe(_ error: DecodingError) -> String {
    func path(_ p: [CodingKey]) -> String {
        p.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
    switch error {
    case .keyNotFound(let key, let ctx): return "no field '\(path(ctx.codingPath + [key]))'"
    case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
        return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
    @unknown default: return "\(error)"
    }
}
