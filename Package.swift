// swift-tools-version:6.1
import PackageDescription

// One list of language settings for every Swift target.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Skiff",
    platforms: [.macOS(.v14)],
    products: [
        // The engine other Swift programs use: `import Skiff`.
        .library(name: "Skiff", targets: ["Skiff"]),
        .executable(name: "skiff", targets: ["SkiffCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Only the server; swift-configuration support is not used, so its trait stays off.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
    ],
    targets: [
        // setjmp/longjmp error handling for libpng and libjpeg must stay in C. Both libraries
        // (Debian: libpng-dev, libjpeg-dev for the headers) are opened with dlopen when the first
        // image is decoded or encoded, not linked: `skiff score` never loads them.
        .target(name: "CSkiffCodecs", linkerSettings: [.linkedLibrary("dl")]),
        // libtesseract's C API, loaded at run time (see skiff_tesseract.h for why).
        .target(name: "CTesseract"),

        // AVX2 quantized dot products, norms, RoPE, attention and a thread pool (see skiff_kernels.h
        // for why C). F32 products go to OpenBLAS (Debian libopenblas0-pthread), opened with dlopen
        // on first use rather than linked, so commands that never multiply matrices (`skiff score`)
        // do not pay for loading it at start-up.
        .target(
            name: "CSkiffKernels", cSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("dl")]),

        // GGUF and safetensors readers, model hyper-parameters.
        .target(
            name: "SkiffModelFiles", dependencies: ["CSkiffKernels"], exclude: ["README.md"],
            swiftSettings: swiftSettings),
        // Byte-level BPE tokenizer (GGUF metadata or tokenizer.json) and chat templates.
        .target(
            name: "SkiffTokenizer", dependencies: ["SkiffModelFiles"], exclude: ["README.md"],
            swiftSettings: swiftSettings),
        // Llama-family decoder: forward pass, KV cache, sampling, token streams.
        .target(
            name: "SkiffDecoder", dependencies: ["SkiffModelFiles", "SkiffTokenizer", "CSkiffKernels"],
            exclude: ["README.md"], swiftSettings: swiftSettings),

        // ONNX models read from the protobuf wire format, and a graph runtime for them (PP-OCRv5).
        .target(
            name: "SkiffONNX", dependencies: ["CSkiffKernels"], exclude: ["README.md"],
            swiftSettings: swiftSettings),

        // Page decoding, pixel buffers, resampling and InternVL-style tiling.
        .target(
            name: "SkiffImage", dependencies: ["CSkiffCodecs"], exclude: ["README.md"],
            swiftSettings: swiftSettings),
        // Tesseract OCR engine and the OCR result model.
        .target(
            name: "SkiffOCR",
            dependencies: ["CTesseract", "SkiffImage"],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        // PP-OCRv5 text detection (DBNet) and recognition (SVTR + CTC) on SkiffONNX: DB post-processing,
        // perspective crops, batched recognition, rows and word boxes from CTC timing.
        .target(
            name: "SkiffPPOCR", dependencies: ["SkiffONNX", "SkiffImage", "SkiffOCR"], exclude: ["README.md"],
            swiftSettings: swiftSettings),
        // CER / WER / field F1 against ground truth: normalisation profiles, UAX #29 words,
        // bit-parallel edit distance, readers for text/CSV/OCR JSON/ALTO/PAGE, JSON and HTML reports.
        .target(
            name: "SkiffScoring",
            dependencies: ["SkiffOCR", "SkiffJSON"],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        // Extraction: decode → OCR passes → an engine (rules now, models later) → schema-valid JSON
        // with provenance; evaluation sets and the regex baseline.
        .target(
            name: "SkiffExtraction",
            dependencies: ["SkiffImage", "SkiffOCR", "SkiffJSON", "SkiffSchema", "SkiffScoring"],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        // The library product: batch processing on top of the modules above.
        .target(
            name: "Skiff",
            dependencies: [
                "SkiffImage", "SkiffOCR", "SkiffScoring", "SkiffJSON", "SkiffSchema", "SkiffDecoder",
                "SkiffConstraint", "SkiffExtraction", "SkiffVision", "SkiffSpanRanker", "SkiffPPOCR", "SkiffONNX",
            ],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        // JSON values with exact numbers and key order; a byte-level parser and serializer.
        .target(name: "SkiffJSON", exclude: ["README.md"], swiftSettings: swiftSettings),
        // JSON Schema (drafts 4 to 2020-12): compiled schema model, validator, ECMAScript regex.
        .target(
            name: "SkiffSchema", dependencies: ["SkiffJSON"], exclude: ["README.md"],
            swiftSettings: swiftSettings),
        // JSON-Schema-constrained decoding: schema → byte-level grammar → token masks.
        .target(
            name: "SkiffConstraint", dependencies: ["SkiffJSON", "SkiffSchema", "SkiffTokenizer", "SkiffDecoder"],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        // InternVL2 / H2OVL-Mississippi: InternViT encoder, pixel shuffle, projector, multimodal
        // prompts, generation under the schema constraint, and the vision extraction engine.
        .target(
            name: "SkiffSpanRanker", dependencies: ["SkiffDecoder", "SkiffTokenizer", "SkiffExtraction", "SkiffConstraint", "SkiffJSON"],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(
            name: "SkiffVision",
            dependencies: ["CSkiffKernels", "SkiffModelFiles", "SkiffTokenizer", "SkiffDecoder", "SkiffConstraint",
                           "SkiffImage", "SkiffJSON", "SkiffSchema", "SkiffExtraction"],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        // The watched inbox: events or polling, a durable job journal (SQLite through GRDB),
        // atomic outputs, done/ and failed/, retries, a bounded queue of workers.
        .target(
            name: "SkiffInbox",
            dependencies: [
                "Skiff", "SkiffExtraction", "SkiffJSON", "CSkiffHash",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        // SHA-256 of inputs (the journal's content key), in C so debug builds hash quickly.
        .target(name: "CSkiffHash"),
        // The HTTP service on Hummingbird: extract, OCR, score, health, metrics, OpenAPI.
        .target(
            name: "SkiffServer",
            dependencies: [
                "Skiff", "SkiffExtraction", "SkiffJSON", "SkiffSchema", "SkiffScoring", "SkiffInbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["README.md"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "SkiffCLI",
            dependencies: [
                "Skiff", "SkiffScoring", "SkiffJSON", "SkiffSchema", "SkiffInbox", "SkiffServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"], swiftSettings: swiftSettings),

        .testTarget(
            name: "SkiffImageTests", dependencies: ["SkiffImage"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffModelFilesTests", dependencies: ["SkiffModelFiles"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffTokenizerTests", dependencies: ["SkiffTokenizer"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffDecoderTests", dependencies: ["SkiffDecoder", "CSkiffKernels"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffOCRTests", dependencies: ["Skiff"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffScoringTests", dependencies: ["SkiffScoring", "SkiffJSON"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffJSONTests", dependencies: ["SkiffJSON"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffSchemaTests", dependencies: ["SkiffSchema", "SkiffJSON"], exclude: ["Fixtures"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffConstraintTests", dependencies: ["SkiffConstraint", "SkiffSchema", "SkiffJSON", "SkiffTokenizer", "SkiffDecoder"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffExtractionTests", dependencies: ["SkiffExtraction", "SkiffImage", "SkiffJSON", "SkiffOCR", "SkiffSpanRanker"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffVisionTests",
            dependencies: ["SkiffVision", "SkiffImage", "SkiffDecoder", "SkiffConstraint", "SkiffTokenizer", "SkiffJSON",
                           "SkiffExtraction", "CSkiffKernels"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffONNXTests", dependencies: ["SkiffONNX"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffPPOCRTests", dependencies: ["SkiffPPOCR", "SkiffONNX", "SkiffImage", "SkiffOCR"],
            resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffCLITests", dependencies: ["SkiffCLI", "SkiffInbox", "SkiffImage", "SkiffServer", "SkiffSchema", "SkiffJSON"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffInboxTests", dependencies: ["SkiffInbox", "SkiffImage", "SkiffJSON", "SkiffExtraction", "SkiffOCR"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SkiffServerTests", dependencies: ["SkiffServer", "SkiffJSON", "SkiffSchema"],
            swiftSettings: swiftSettings),
    ]
)
