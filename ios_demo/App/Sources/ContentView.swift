// The first screen: every bundled model (one row per CycleGAN pair), the compute-units choice,
// and the self-test.

import Pix2MobileCore
import SwiftUI

struct ContentView: View {
    @EnvironmentObject private var store: ModelStore

    var body: some View {
        NavigationStack {
            List {
                Section("Models") {
                    if store.catalog.models.isEmpty {
                        Text("No models bundled. On your computer: pix2mobile bundle EXPORT... --ios ios_demo")
                            .foregroundStyle(.secondary)
                    }
                    ForEach(store.catalog.groups, id: \.self) { group in
                        let models = store.catalog.group(group)
                        NavigationLink {
                            ModelView(models: models)
                        } label: {
                            VStack(alignment: .leading) {
                                Text(group).font(.headline)
                                Text(describe(models)).font(.caption).foregroundStyle(.secondary)
                            }
                        }
                    }
                }
                if !store.catalog.problems.isEmpty {
                    Section("Could not read") {
                        ForEach(store.catalog.problems, id: \.self) { Text($0).foregroundStyle(.red).font(.caption) }
                    }
                }
                Section {
                    Picker("Compute units", selection: $store.computeUnits) {
                        ForEach(ComputeUnits.allCases) { Text($0.rawValue).tag($0) }
                    }
                    NavigationLink("Self-test") { SelfTestView() }
                } footer: {
                    Text("Compute units: where Core ML may run the model (MLComputeUnits).")
                }
            }
            .navigationTitle("pix2mobile")
        }
    }

    private func describe(_ models: [BundledModel]) -> String {
        guard let first = models.first else { return "" }
        let files = first.index.artifacts.map { "\($0.format) \($0.precision)" }.joined(separator: ", ")
        let size = first.index.modelSize
        let directions = models.compactMap(\.index.direction).joined(separator: " / ")
        return "\(first.family) \(first.index.arch), \(size.width)x\(size.height), \(files)"
            + (directions.isEmpty ? "" : ", \(directions)")
    }
}
