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
    /// What the products read: Q4_1 and Q8_0 rewritten once into interleaved groups of
    /// four rows (`skiff_repack_x4`: same bits out; 14-33 % more Q4_1 weight bytes per CPU
    /// second here, `tools/decoder_ceilings.c`) where the CPU has the AVX2 kernels for it; otherwise `type` at `base`.
    /// `base` stays for embedding lookups.
    let kernelType: Int32
    let kernelBase: UnsafeRawPointer
    private let kernelOwner: AnyObject?

    init(_ tensor: Tensor, rows: Int, cols: Int) throws(DecoderError) {
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
        // SKIFF_WEIGHT_LAYOUT=gguf keeps the file's layout, to compare the two in one benchmark.
        if type == .q4_1 || type == .q8_0, rows % 4 == 0, !Self.keepsFileLayout {
            let packed = PackedStorage(byteCount: rows * skiff_row_size(Int32(type.rawValue), Int64(cols)))
            let packedType = skiff_repack_x4(Int32(type.rawValue), base, Int64(rows), Int64(cols), packed.pointer)
            if packedType >= 0 {
                kernelType = packedType
                kernelBase = UnsafeRawPointer(packed.pointer)
                kernelOwner = packed
                return
            }
        }
        kernelType = Int32(type.rawValue)
        kernelBase = base
        kernelOwner = nil
    }

    static let keepsFileLayout = ProcessInfo.processInfo.environment["SKIFF_WEIGHT_LAYOUT"] == "gguf"

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
