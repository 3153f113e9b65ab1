// pix2mobile's iOS sample app: a thin SwiftUI layer over Pix2MobileCore (tested on Linux in CI)
// and Core ML (Apple devices only). Models come from the bundled `models/` folder that
// `pix2mobile bundle EXPORT... --ios ios_demo` fills; no code names a model.

import SwiftUI

@main
struct Pix2MobileApp: App {
    @StateObject private var store = ModelStore()

    var body: some Scene {
        WindowGroup {
            ContentView()
                .environmentObject(store)
        }
    }
}
