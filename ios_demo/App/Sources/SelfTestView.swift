// The self-test: every bundled artifact on its golden vectors (Pix2MobileCore.SelfTest). Red on
// any error: a model that fails to load, a pre-processing that differs from Python's by one bit,
// or an output below the artifact's export gate.

import Pix2MobileCore
import SwiftUI

@MainActor
struct SelfTestView: View {
    @EnvironmentObject private var store: ModelStore
    // The golden outputs are fp32 (pix2mobile's numpy evaluator); the Neural Engine computes in fp16,
    // so "All" can read lower than the gate on an fp32 file. CPU only is the like-for-like check.
    @State private var units: ComputeUnits = .cpuOnly
    @State private var results: [SelfTestResult] = []
    @State private var running = false

    private var failed: Int { results.filter { !$0.passed }.count + store.catalog.problems.count }

    var body: some View {
        List {
            Section {
                Picker("Compute units", selection: $units) {
                    ForEach(ComputeUnits.allCases) { Text($0.rawValue).tag($0) }
                }
                Button(running ? "Running…" : "Run self-test") { Task { await run() } }
                    .disabled(running)
            } footer: {
                Text(
                    "Each model's golden input (a real photo through the contract) must come out of this app's "
                        + "pre-processing bit for bit, and the model's output must reach its export gate (PSNR) "
                        + "against the golden output, which pix2mobile's numpy Core ML evaluator computed.")
            }
            if !results.isEmpty {
                Section("Summary") {
                    Text("\(results.count + store.catalog.problems.count - failed) passed, \(failed) failed")
                        .foregroundStyle(failed == 0 ? .green : .red)
                }
            }
            ForEach(store.catalog.problems, id: \.self) { problem in
                Label(problem, systemImage: "xmark.octagon.fill").foregroundStyle(.red)
            }
            ForEach(results) { r in
                VStack(alignment: .leading, spacing: 4) {
                    Label(r.id, systemImage: r.passed ? "checkmark.circle.fill" : "xmark.octagon.fill")
                        .foregroundStyle(r.passed ? .green : .red)
                    if let db = r.psnrDb {
                        Text(String(format: "PSNR %.2f dB (gate %.1f dB)", db, r.thresholdDb)).font(.caption)
                    }
                    if let ms = r.timing?.predictionMs {
                        Text(String(format: "prediction %.1f ms", ms)).font(.caption)
                    }
                    if let failure = r.failure { Text(failure).font(.caption).foregroundStyle(.red) }
                    Text("golden output: \(r.goldenRuntime)").font(.caption2).foregroundStyle(.secondary)
                }
            }
        }
        .navigationTitle("Self-test")
    }

    private func run() async {
        running = true
        results = []
        for model in store.catalog.models {
            for artifact in model.index.artifacts {
                do {
                    let runner = try await store.runner(model, artifact, units: units)
                    let result = await Task.detached(priority: .userInitiated) {
                        SelfTest.run(model, artifact, runner: runner)
                    }.value
                    results.append(result)
                } catch {
                    results.append(.failed(model, artifact, "could not load it: \(error)"))
                }
            }
        }
        running = false
    }
}
