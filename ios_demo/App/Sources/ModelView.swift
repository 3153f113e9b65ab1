// One model: pick or take a photo, run it, see the result and where the time went. CycleGAN
// shows its direction switch, BicycleGAN a "new sample" button (a new z), the morph an alpha
// slider. All of it is the core's Translator; this file only wires controls to it.

import PhotosUI
import Pix2MobileCore
import SwiftUI
import UIKit

@MainActor
struct ModelView: View {
    @EnvironmentObject private var store: ModelStore
    let models: [BundledModel]  // one, or a CycleGAN's two directions

    @State private var direction = 0
    @State private var artifactIndex = 0
    @State private var mode: Mode = .fit
    @State private var pickerItem: PhotosPickerItem?
    @State private var showCamera = false
    @State private var photo: RGBImage?
    @State private var photoImage: UIImage?
    @State private var resultImage: UIImage?
    @State private var timing: Timing?
    @State private var latency: SplitLatency?
    @State private var alpha = 0.5
    @State private var z: FeatureValue?
    @State private var sampler = LatentSampler()
    @State private var busy = false
    @State private var message: String?

    private var model: BundledModel { models[min(direction, models.count - 1)] }
    private var artifact: BundledArtifact { model.index.artifacts[min(artifactIndex, model.index.artifacts.count - 1)] }
    private var io: ArtifactIO? { try? ArtifactIO(model.entry(artifact)) }
    private var takesPhoto: Bool { io?.imageInput != nil }

    var body: some View {
        Form {
            Section("Model") {
                if models.count > 1 {
                    Picker("Direction", selection: $direction) {
                        ForEach(models.indices, id: \.self) { i in
                            Text(models[i].index.direction == "b2a" ? "B → A" : "A → B").tag(i)
                        }
                    }
                    .pickerStyle(.segmented)
                }
                if model.index.artifacts.count > 1 {
                    Picker("File", selection: $artifactIndex) {
                        ForEach(model.index.artifacts.indices, id: \.self) { i in
                            Text("\(model.index.artifacts[i].format) \(model.index.artifacts[i].precision)").tag(i)
                        }
                    }
                }
                if takesPhoto {
                    Picker("Mode", selection: $mode) {
                        Text("fit").tag(Mode.fit)
                        Text("tile").tag(Mode.tile)
                    }
                    .pickerStyle(.segmented)
                }
            }
            if takesPhoto {
                Section("Photo") {
                    PhotosPicker(selection: $pickerItem, matching: .images) {
                        Label("Choose a photo", systemImage: "photo")
                    }
                    if CameraPicker.isAvailable {
                        Button {
                            showCamera = true
                        } label: {
                            Label("Take a photo", systemImage: "camera")
                        }
                    }
                    if let latent = io?.latentInput {
                        Button {
                            z = sampler.draw(latent)
                            run()
                        } label: {
                            Label("New sample", systemImage: "dice")
                        }
                        .disabled(photo == nil || busy)
                    }
                }
            } else if let scalar = io?.scalarInput {
                Section("Alpha") {
                    Slider(
                        value: $alpha, in: scalar.range.lo...scalar.range.hi,
                        onEditingChanged: { editing in if !editing { run() } })
                    Text(String(format: "alpha = %.3f", alpha)).monospacedDigit()
                }
            }
            Section("Result") {
                if busy { ProgressView() }
                if let message { Text(message).foregroundStyle(.red) }
                HStack {
                    if let photoImage { Image(uiImage: photoImage).resizable().scaledToFit() }
                    if let resultImage { Image(uiImage: resultImage).resizable().scaledToFit() }
                }
                if let timing {
                    Text(
                        String(
                            format: "pre-process %.1f ms · prediction %.1f ms · post-process %.1f ms",
                            timing.preprocessMs, timing.predictionMs, timing.postprocessMs)
                    )
                    .font(.caption).monospacedDigit()
                }
                Button("Benchmark (warm-up 2, at least 10 runs and 2 s)") { benchmark() }
                    .disabled(busy || (takesPhoto && photo == nil))
                if let latency {
                    VStack(alignment: .leading) {
                        Text("pre-process: \(latency.preprocess.summary)")
                        Text("prediction: \(latency.prediction.summary)")
                        Text("post-process: \(latency.postprocess.summary)")
                    }
                    .font(.caption).monospacedDigit()
                }
            }
        }
        .navigationTitle(model.index.group)
        .onChange(of: pickerItem) { item in
            guard let item else { return }
            Task {
                do {
                    guard let data = try await item.loadTransferable(type: Data.self) else { return }
                    let pixels = try await Task.detached(priority: .userInitiated) {
                        try ImageFile.read(data: data)
                    }.value
                    setPhoto(pixels)
                } catch {
                    message = "\(error)"
                }
            }
        }
        .onChange(of: direction) { _ in run() }
        .onChange(of: artifactIndex) { _ in run() }
        .onChange(of: mode) { _ in run() }
        .fullScreenCover(isPresented: $showCamera) {
            CameraPicker { image in
                do { setPhoto(try Images.pixels(image)) } catch { message = "\(error)" }
            }
            .ignoresSafeArea()
        }
        .onAppear { if !takesPhoto { run() } }
    }

    private func setPhoto(_ pixels: RGBImage) {
        photo = pixels
        photoImage = Images.uiImage(pixels)
        resultImage = nil
        run()
    }

    /// The inputs besides the photo: BicycleGAN's z (drawn once, redrawn by "New sample"), the morph's alpha.
    private func extras(_ io: ArtifactIO) -> [String: FeatureValue] {
        var feed: [String: FeatureValue] = [:]
        if let latent = io.latentInput {
            let drawn = z ?? sampler.draw(latent)
            z = drawn
            feed[latent.name] = drawn
        }
        if let scalar = io.scalarInput { feed[scalar.name] = .tensor(shape: scalar.shape, values: [Float(alpha)]) }
        return feed
    }

    private func translator() async throws -> Translator {
        let runner = try await store.runner(model, artifact, units: store.computeUnits)
        return try Translator(entry: try model.entry(artifact), runner: runner)
    }

    private func run() {
        guard !busy, let io, !takesPhoto || photo != nil else { return }
        busy = true
        message = nil
        let (photo, mode, feed) = (self.photo, self.mode, extras(io))
        Task {
            defer { busy = false }
            do {
                let translator = try await translator()
                let out = try await Task.detached(priority: .userInitiated) {
                    () throws -> (image: RGBImage, timing: Timing) in
                    if let photo { return try translator.apply(photo, mode: mode, extras: feed) }
                    return try translator.render(feed)
                }.value
                resultImage = Images.uiImage(out.image)
                timing = out.timing
            } catch {
                message = "\(error)"
            }
        }
    }

    private func benchmark() {
        guard !busy, let io else { return }
        busy = true
        message = nil
        let (photo, mode, feed) = (self.photo, self.mode, extras(io))
        Task {
            defer { busy = false }
            do {
                let translator = try await translator()
                let timings = try await Task.detached(priority: .userInitiated) {
                    try timeRuns(warmup: 2, minRuns: 10, minSeconds: 2) { () throws -> Timing in
                        if let photo { return try translator.apply(photo, mode: mode, extras: feed).timing }
                        return try translator.render(feed).timing
                    }
                }.value
                latency = SplitLatency(timings)
            } catch {
                message = "\(error)"
            }
        }
    }
}
