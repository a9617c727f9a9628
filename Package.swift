// swift-tools-version:6.0
import PackageDescription

// CPU-specific flags only where the architecture has them; aarch64 (Jetson) builds plain.
// REFLEX_GENERIC_CPU=1 builds x86-64 code that runs on CPUs without AVX2/FMA.
// The engine is optimised in debug builds too: tests then run the code that ships (and check
// that a step allocates nothing, which unspecialised debug SIMD code would not honour).
var engineFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]
// The AVX-512 kernels are compiled for skylake-avx512 on every x86-64 build and run only where
// the CPU has it (reflex_cpu_has_avx512, checked at run time), so they need no opt-in.
var wideKernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
]
#if arch(x86_64)
if Context.environment["REFLEX_GENERIC_CPU"] == nil {
    engineFlags.append(.unsafeFlags(["-target-cpu", "haswell"]))
}
wideKernelFlags.append(.unsafeFlags(["-target-cpu", "skylake-avx512"]))
#endif

let package = Package(
    name: "reflex",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "reflexd", targets: ["reflexd"]),
        .executable(name: "reflexctl", targets: ["reflexctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        // Observability (/metrics): the exposition format and a small HTTP server off the serving thread.
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "CReflexCPU"),
        .target(name: "ReflexKernelsAVX512", dependencies: ["CReflexCPU"], swiftSettings: wideKernelFlags),
        .target(name: "ReflexEngine", dependencies: [
            "COpenBLAS", "CReflexCPU", "ReflexKernelsAVX512", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: engineFlags),
        .target(name: "ReflexScheduler"),
        // The wire protocol as pure functions: request decoding, reply encoding, strict JSON.
        .target(name: "ReflexWire"),
        // One step of serving without sockets: sessions, the latest-wins queue, admission, the
        // budget planner, serving statistics, driven by an injected clock.
        .target(name: "ReflexServing", dependencies: ["ReflexEngine", "ReflexScheduler", "ReflexWire"]),
        .target(name: "ReflexDaemon", dependencies: [
            "ZeroMQ", "ReflexEngine", "ReflexScheduler", "ReflexServing", "ReflexWire",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Tooling beside the daemon, never linked into reflexd: benchmarks, fuzzers, the Swift
        // client, bundle reports.
        .target(name: "ReflexTools", dependencies: [
            "ReflexDaemon", "ReflexEngine", "ReflexScheduler", "ReflexServing", "ReflexWire", "ZeroMQ", "COpenBLAS",
            "CReflexCPU", "ReflexKernelsAVX512",
        ]),
        .executableTarget(name: "reflexd", dependencies: [
            "ReflexDaemon", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "reflexctl", dependencies: [
            "ReflexTools", "ReflexDaemon", "ReflexEngine", "ReflexScheduler", "ReflexWire", "ZeroMQ",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        // Test-only: counts heap allocations per thread (interposes malloc in the test binary).
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(name: "ReflexEngineTests", dependencies: ["ReflexEngine", "CAllocationCounter", "CReflexCPU", "ReflexKernelsAVX512"]),
        .testTarget(name: "ReflexSchedulerTests", dependencies: ["ReflexScheduler"]),
        .testTarget(name: "ReflexServingTests", dependencies: ["ReflexServing", "ReflexEngine", "ReflexWire"]),
        .testTarget(name: "ReflexDaemonTests", dependencies: ["ReflexDaemon", "ReflexServing", "ReflexWire"]),
        .testTarget(name: "ReflexWireTests", dependencies: ["ReflexWire"]),
        .testTarget(name: "ReflexToolsTests", dependencies: ["ReflexTools", "ReflexDaemon", "ReflexWire"]),
    ]
)
