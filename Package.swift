// swift-tools-version:6.0
import PackageDescription

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
        // OpenCL C sources, embedded into the binary so it never reads kernels from disk.
        .target(
            name: "Kernels",
            exclude: [],
            resources: [
                .embedInCode("common.cl"),
                .embedInCode("gemm.cl"),
                .embedInCode("layernorm.cl"),
                .embedInCode("elementwise.cl"),
                .embedInCode("cafu.cl"),
            ]
        ),
        .target(
            name: "ARMMTGPU",
            dependencies: ["COpenCL", "COpenBLAS", "Kernels"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "ARMMTTrain",
            dependencies: [
                "ARMMTGPU",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "KernelTests", dependencies: ["ARMMTGPU"]),
        .testTarget(name: "TrainTests", dependencies: ["ARMMTGPU"]),
    ],
    swiftLanguageModes: [.v5]
)
