// The app's models: every folder under the bundled `models/` that `pix2mobile bundle --ios`
// wrote (bundle.json + manifest.json + the Core ML files + golden/). Nothing is listed in code,
// so a new export needs no code change (src/pix2mobile/pipelines/bundle.py has the schema).

import Foundation

/// bundle.json (schema 1).
public struct BundleIndex: Decodable, Sendable {
    public static let fileName = "bundle.json"

    public var schemaVersion: Int
    public var name: String
    public var family: String
    public var arch: String
    /// "a2b" / "b2a" for CycleGAN, nil otherwise.
    public var direction: String?
    /// Models sharing a group are one CycleGAN's two directions (the app's direction switch).
    public var group: String
    public var modelSize: Size
    /// golden/photo.npy: the real photo every golden input was made from.
    public var photo: String
    /// The fit plan of that photo at the model's size (nil for the morph, which takes no photo).
    public var plan: FitPlan?
    public var artifacts: [BundledArtifact]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case name, family, arch, direction, group
        case modelSize = "model_size"
        case photo, plan, artifacts
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try c.decode(Int.self, forKey: .schemaVersion)
        guard schemaVersion == 1 else {
            throw CoreError("bundle.json schema_version \(schemaVersion) is not supported (this app reads 1)")
        }
        name = try c.decode(String.self, forKey: .name)
        family = try c.decode(String.self, forKey: .family)
        arch = try c.decode(String.self, forKey: .arch)
        direction = try c.decodeIfPresent(String.self, forKey: .direction)
        group = try c.decode(String.self, forKey: .group)
        modelSize = try c.decode(Size.self, forKey: .modelSize)
        photo = try c.decode(String.self, forKey: .photo)
        plan = try c.decodeIfPresent(FitPlan.self, forKey: .plan)
        artifacts = try c.decode([BundledArtifact].self, forKey: .artifacts)
    }
}

public struct BundledArtifact: Decodable, Sendable {
    public struct Vector: Decodable, Sendable {
        public var name: String
        /// "image", "latent" or "scalar" (inputs only).
        public var kind: String?
        public var layout: Layout
        /// The model's own range (the IOSpec's), also for image-I/O artifacts.
        public var range: ValueRange
        public var file: String
    }

    public var format: String
    public var precision: String
    public var file: String
    public var sha256: String?
    public var thresholdDb: Double?
    /// What computed the golden output (Core ML files: pix2mobile's numpy evaluator, labelled so).
    public var runtime: String
    public var inputs: [Vector]
    public var outputs: [Vector]
    /// The uint8 canvas an image input was made from (for image-I/O artifacts).
    public var canvas: String?
    public var result: String?

    enum CodingKeys: String, CodingKey {
        case format, precision, file, sha256, runtime, inputs, outputs, canvas, result
        case thresholdDb = "threshold_db"
    }

    public var key: String { "\(format)_\(precision)" }
}

/// One bundled model folder, read and checked.
public struct BundledModel: Sendable {
    public var folder: URL
    public var index: BundleIndex
    public var manifest: Manifest

    public init(folder: URL) throws {
        self.folder = folder
        let file = folder.appendingPathComponent(BundleIndex.fileName)
        guard let data = try? Data(contentsOf: file) else { throw CoreError("\(file.path): missing") }
        do {
            index = try JSONDecoder().decode(BundleIndex.self, from: data)
        } catch let e as CoreError {
            throw CoreError("\(file.path): \(e.message)")
        } catch let e as DecodingError {
            throw CoreError("\(file.path): malformed (\(describe(e)))")
        }
        manifest = try Manifest.read(folder)
        for a in index.artifacts {
            _ = try entry(a)
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(a.file).path) else {
                throw CoreError("\(folder.lastPathComponent): bundle.json lists \(a.file), which is missing")
            }
        }
    }

    public var name: String { index.name }
    public var family: String { index.family }

    /// The manifest row of a bundled artifact (its tensors' layouts and ranges).
    public func entry(_ artifact: BundledArtifact) throws -> ArtifactEntry {
        guard
            let row = manifest.artifacts.first(where: {
                $0.ok && $0.format == artifact.format && $0.precision == artifact.precision
            })
        else {
            throw CoreError("\(name): manifest.json has no passing \(artifact.format) \(artifact.precision) row")
        }
        return row
    }

    public func url(_ relative: String) -> URL { folder.appendingPathComponent(relative) }
}

public struct Catalog: Sendable {
    public var models: [BundledModel]
    /// Folders that could not be read, with why (shown in the app rather than hidden).
    public var problems: [String]

    /// Every model folder under `root`, sorted by name.
    public init(root: URL) {
        var models: [BundledModel] = []
        var problems: [String] = []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        for name in names.sorted() where !name.hasPrefix(".") {
            let folder = root.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
                continue
            }
            do { models.append(try BundledModel(folder: folder)) } catch { problems.append("\(name): \(error)") }
        }
        self.models = models
        self.problems = problems
    }

    /// The models of `group` (a CycleGAN's a2b and b2a), in direction order.
    public func group(_ group: String) -> [BundledModel] {
        models.filter { $0.index.group == group }.sorted { ($0.index.direction ?? "") < ($1.index.direction ?? "") }
    }

    /// One entry per group: what the app's model list shows.
    public var groups: [String] {
        var seen = Set<String>()
        return models.compactMap { seen.insert($0.index.group).inserted ? $0.index.group : nil }
    }
}
