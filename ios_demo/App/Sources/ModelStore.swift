// The bundled models and their loaded Core ML runners (the one place the app touches Core ML).

import Foundation
import Pix2MobileCore

@MainActor
final class ModelStore: ObservableObject {
    let catalog: Catalog
    /// Where Core ML may run the models (the picker on the first screen).
    @Published var computeUnits: ComputeUnits = .all
    private var runners: [String: CoreMLRunner] = [:]

    init() {
        if let root = Bundle.main.url(forResource: "models", withExtension: nil) {
            catalog = Catalog(root: root)
        } else {
            var empty = Catalog(root: URL(fileURLWithPath: "/var/empty/models"))
            empty.problems.append("the app has no models/ folder: run pix2mobile bundle EXPORT... --ios ios_demo")
            catalog = empty
        }
    }

    /// A runner for one bundled artifact: compiled on the device once (cached by the file's sha256),
    /// loaded once per compute-units choice.
    func runner(_ model: BundledModel, _ artifact: BundledArtifact, units: ComputeUnits) async throws -> CoreMLRunner {
        let key = "\(model.name)/\(artifact.key)/\(units.rawValue)"
        if let loaded = runners[key] { return loaded }
        let cache = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true
        ).appendingPathComponent("compiled-models")
        let file = model.url(artifact.file)
        let loaded = try await Task.detached(priority: .userInitiated) {
            try await CoreMLRunner.load(
                artifact: file, computeUnits: units, cacheKey: artifact.sha256, cacheFolder: cache)
        }.value
        runners[key] = loaded
        return loaded
    }
}
