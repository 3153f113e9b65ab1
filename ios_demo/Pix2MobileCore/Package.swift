// swift-tools-version:5.9
// Pix2MobileCore: everything the iOS app does that is not UI or Core ML itself (manifest and
// bundle reading, the pre/post-processing contract of docs/preprocessing.md, latency statistics,
// the self-test), plus the `pix2mobile-core` command line that CI runs against Python.
// Builds on Linux (Swift 6.0.3 here, see ../README.md); Apple-only code sits under #if canImport.
import PackageDescription

let package = Package(
    name: "Pix2MobileCore",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "Pix2MobileCore", targets: ["Pix2MobileCore"]),
        .executable(name: "pix2mobile-core", targets: ["pix2mobile-core"]),
    ],
    targets: [
        .target(name: "Pix2MobileCore"),
        .executableTarget(name: "pix2mobile-core", dependencies: ["Pix2MobileCore"]),
        .testTarget(name: "Pix2MobileCoreTests", dependencies: ["Pix2MobileCore"]),
    ]
)
