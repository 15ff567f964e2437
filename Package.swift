// swift-tools-version:6.0
import Foundation
import PackageDescription

// Plain-Swift CPU kernels need AVX2 + FMA to be fast: Swift's default x86-64 target is SSE2
// and lowers fma() to a libm call. Every x86-64 GPU host of the last decade has both
// (Intel Haswell, AMD Zen and later); the CLI checks at start-up and says so clearly if not.
// ARMMT_TARGET_CPU=x86-64 builds for older machines.
let targetCPU = ProcessInfo.processInfo.environment["ARMMT_TARGET_CPU"] ?? "haswell"
#if arch(x86_64)
let cpuFlags: [String] = targetCPU.isEmpty ? [] : ["-target-cpu", targetCPU]
#else
let cpuFlags: [String] = []
#endif

let package = Package(
    name: "armmt-gpu",
    products: [
        .executable(name: "armmt-gpu", targets: ["ARMMTTrain"]),
        .library(name: "ARMMTGPU", targets: ["ARMMTGPU"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The OpenCL ICD loader (libOpenCL), pinned to the 1.2 API in shim.h.
        .systemLibrary(
            name: "COpenCL",
            pkgConfig: "OpenCL",
            providers: [.apt(["ocl-icd-opencl-dev", "opencl-headers"])]
        ),
        // CBLAS from OpenBLAS: the CPU backend's GEMM and the Double reference.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // AVX-512 kernels for the CPU fast paths, compiled per function for AVX-512 so the build
        // still runs on AVX2-only hosts; called only when the CPU has it (CPUVectorUnit). -O2 in
        // every configuration: the debug build runs the test suite, and unoptimised intrinsics
        // keep every register tile in memory. No contraction: the kernels that promise the Swift
        // path's bits write every fused multiply-add out.
        .target(
            name: "CAVX512",
            cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]
        ),
        // OpenCL C sources, embedded into the binary so it never reads kernels from disk.
        .target(
            name: "Kernels",
            exclude: [],
            resources: [
                .embedInCode("common.cl"),
                .embedInCode("gemm.cl"),
                .embedInCode("copy.cl"),
                .embedInCode("colred.cl"),
                .embedInCode("probe.cl"),
                .embedInCode("embedding.cl"),
                .embedInCode("loss.cl"),
                .embedInCode("optimizer.cl"),
                .embedInCode("attention.cl"),
                .embedInCode("layernorm.cl"),
                .embedInCode("elementwise.cl"),
                .embedInCode("cafu.cl"),
                .embedInCode("softmax.cl"),
            ]
        ),
        .target(
            name: "ARMMTGPU",
            dependencies: ["COpenCL", "COpenBLAS", "CAVX512", "Kernels"],
            swiftSettings: [
                .unsafeFlags(cpuFlags),
                .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
            ]
        ),
        .executableTarget(
            name: "ARMMTTrain",
            dependencies: [
                "ARMMTGPU",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "KernelTests", dependencies: ["ARMMTGPU", "CAVX512"]),
        .testTarget(name: "TrainTests", dependencies: ["ARMMTGPU"], exclude: ["FuzzRegressions"]),
    ],
    swiftLanguageModes: [.v5]
)
