import CSkiffKernels
import Foundation
public import SkiffModelFiles

/// A weight matrix ready for the kernels: memory-mapped when its type is computed
/// on directly (F32, Q4_0, Q4_1, Q8_0), widened to F32 once at load otherwise (F16, BF16).
public struct WeightMatrix: @unchecked Sendable {
    // @unchecked: `base` points into `owner`, which is immutable and kept alive here.
    public let name: String
    public let type: TensorType
    public let rows: Int
    public let cols: Int
    let base: UnsafeRawPointer
    private let owner: AnyObject
    /// What the products read, rewritten once at load where the CPU has the kernels for it,
    /// with the same bits out as the file's layout: with AVX-512 VNNI, Q4_0, Q4_1 and Q8_0 in
    /// groups of sixteen rows (`skiff_repack_x16`: 2x the four-row kernels' rate from cache,
    /// `tools/decoder_ceilings.c`; +12 % generated tokens/s); with AVX2, Q4_1 and Q8_0 in groups
    /// of four (`skiff_repack_x4`: 14-33 % more Q4_1 weight bytes per CPU second than the
    /// file's layout); otherwise `type` at `base`. `base` stays for embedding lookups.
    let kernelType: Int32
    let kernelBase: UnsafeRawPointer
    private let kernelOwner: AnyObject?

    /// - Parameter arena: where a packed copy goes (one per model, so that its weights share
    ///   huge pages); nil gives the copy its own allocation.
    /// - Parameter sixteenRows: whether the sixteen-row layout may be used (Q, K and V need
    ///   whole groups per attention head).
    /// - Parameter layout: how far to rewrite it (`.fastest` by default).
    init(_ tensor: Tensor, rows: Int, cols: Int, layout: WeightLayout = .fastest, sixteenRows: Bool = true,
         arena: PackedArena? = nil) throws(DecoderError) {
        guard tensor.shape == [rows, cols] else {
            throw .modelFile(.wrongShape(tensor: tensor.name, expected: [rows, cols], actual: tensor.shape))
        }
        name = tensor.name
        self.rows = rows
        self.cols = cols
        switch tensor.type {
        case .f32, .q4_0, .q4_1, .q8_0:
            guard let base = tensor.data.baseAddress else {
                throw .unsupportedWeight(tensor: tensor.name, type: tensor.type, reason: "empty tensor")
            }
            type = tensor.type
            self.base = base
            owner = tensor.file
        case .f16, .bf16:
            let storage = FloatStorage(tensor.floats())
            type = .f32
            base = UnsafeRawPointer(storage.pointer)
            owner = storage
        }
        let sixteen = sixteenRows && layout == .fastest && skiff_has_avx512_vnni() != 0 && rows % 16 == 0
            && cols % 32 == 0 && (type == .q4_0 || type == .q4_1 || type == .q8_0)
        let four = skiff_has_avx2() != 0 && rows % 4 == 0 && (type == .q4_1 || type == .q8_0)
        if sixteen || four, layout != .file {
            let bytes = rows * skiff_row_size(Int32(type.rawValue), Int64(cols))
            let owner: AnyObject
            let pointer: UnsafeMutableRawPointer
            if let arena, let p = arena.allocate(bytes) {
                (owner, pointer) = (arena, p)
            } else {
                let storage = PackedStorage(byteCount: bytes)
                (owner, pointer) = (storage, storage.pointer)
            }
            let packedType = sixteen
                ? skiff_repack_x16(Int32(type.rawValue), base, Int64(rows), Int64(cols), pointer)
                : skiff_repack_x4(Int32(type.rawValue), base, Int64(rows), Int64(cols), pointer)
            if packedType >= 0 {
                kernelType = packedType
                kernelBase = UnsafeRawPointer(pointer)
                kernelOwner = owner
                return
            }
        }
        kernelType = Int32(type.rawValue)
        kernelBase = base
        kernelOwner = nil
    }

    /// Whether the packed copy lives in a model's `PackedArena`.
    var usesArena: Bool { kernelOwner is PackedArena }

    /// The layout the products read, for reports: "gguf", "x4" or "x16".
    var layout: String {
        let rows = skiff_layout_rows(kernelType)
        return rows > 1 ? "x\(rows)" : "gguf"
    }

    var rowBytes: Int { skiff_row_size(Int32(type.rawValue), Int64(cols)) }

    /// Row `index` as F32 values (the embedding lookup).
    func row(_ index: Int, into out: UnsafeMutablePointer<Float>) {
        _ = skiff_dequantize_row(Int32(type.rawValue), base + index * rowBytes, out, Int64(cols))
    }

    /// Bytes read per full product (for the bandwidth floor).
    public var byteCount: Int { rows * rowBytes }
}

/// Owned F32 weights (converted from F16/BF16).
final class FloatStorage: @unchecked Sendable {
    // @unchecked: written once in init, read-only afterwards.
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(1, values.count))
        for (i, v) in values.enumerated() { (pointer + i).initialize(to: v) }
    }
    deinit { pointer.deallocate() }
}

/// An owned, 64-byte aligned copy of a matrix in a kernel layout.
final class PackedStorage: @unchecked Sendable {
    // @unchecked: written once by skiff_repack_x4 in WeightMatrix.init, read-only afterwards.
    let pointer: UnsafeMutableRawPointer
    init(byteCount: Int) { pointer = .allocate(byteCount: max(64, byteCount), alignment: 64) }
    deinit { pointer.deallocate() }
}

/// Memory for one model's matrices in kernel layouts: chunks of at least 32 MB from
/// `skiff_weight_alloc` (2 MB aligned, transparent huge pages advised), handed out 64-byte
/// aligned. A generated token reads every weight once, ~100 MB for SmolLM2; in 4 KB pages
/// that is a TLB miss every 4 KB, which neither the hardware prefetcher nor the kernels'
/// software prefetch gets past.
final class PackedArena: @unchecked Sendable {
    // @unchecked: allocated from only while the model loads (one thread), read-only afterwards.
    private var chunks: [(pointer: UnsafeMutableRawPointer, mapped: Int)] = []
    private var next: UnsafeMutableRawPointer?
    private var left = 0
    private static let chunkBytes = 32 << 20

    /// `bytes` (rounded up to 64), or nil when the memory cannot be mapped.
    func allocate(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let need = max(64, (bytes + 63) / 64 * 64)
        if need > left || next == nil {
            var mapped = 0
            guard let chunk = skiff_weight_alloc(max(need, Self.chunkBytes), &mapped) else { return nil }
            chunks.append((chunk, mapped))
            next = chunk
            left = mapped
        }
        guard let p = next else { return nil }
        next = p + need
        left -= need
        return p
    }

    deinit {
        for chunk in chunks { skiff_weight_free(chunk.pointer, chunk.mapped) }
    }
}

/// How far a model's quantized matrices are rewritten at load. Every choice gives the same
/// bits (llama.cpp's rounding); they differ only in speed, so the older ones stay for
/// comparisons.
public enum WeightLayout: String, Sendable, CaseIterable {
    /// The fastest layout this CPU has kernels for: sixteen-row groups with AVX-512 VNNI,
    /// four-row groups with AVX2.
    case fastest
    /// At most four-row groups (the AVX2 kernels).
    case fourRows = "x4"
    /// The file's own layout.
    case file = "gguf"

    /// `SKIFF_WEIGHT_LAYOUT` (`x4` or `gguf`) when set, else `.fastest`.
    public static var standard: WeightLayout {
        ProcessInfo.processInfo.environment["SKIFF_WEIGHT_LAYOUT"].flatMap(WeightLayout.init(rawValue:)) ?? .fastest
    }
}
