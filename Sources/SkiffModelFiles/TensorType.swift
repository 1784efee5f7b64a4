import CSkiffKernels

/// Element types of model tensors (GGML numbering, shared with GGUF).
public enum TensorType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, bf16 = 30

    /// Elements per block (1 for plain floats).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q8_0: 32
        }
    }

    /// Bytes one block takes.
    public var blockBytes: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18
        case .q4_1: 20
        case .q8_0: 34
        }
    }

    /// Bytes taken by `count` elements, or nil when `count` is not a whole number of blocks or overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q8_0: "Q8_0"
        }
    }

    /// GGML names of types this reader does not compute with, for error messages.
    static func ggmlName(_ raw: UInt32) -> String {
        let names: [UInt32: String] = [
            6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K",
            15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
            22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
        ]
        return names[raw] ?? "type #\(raw)"
    }
}

/// One tensor of a model file: its name, element type, shape (outermost first, so a
/// weight matrix is [rows, columns]) and its bytes inside the mapped file.
public struct Tensor: Sendable {
    public let name: String
    public let type: TensorType
    public let shape: [Int]
    /// The mapped file the bytes live in; holding it keeps them valid.
    public let file: MappedFile
    public let byteRange: Range<Int>
    public var data: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: file.bytes[byteRange]) }

    public init(name: String, type: TensorType, shape: [Int], file: MappedFile, byteRange: Range<Int>) {
        self.name = name
        self.type = type
        self.shape = shape
        self.file = file
        self.byteRange = byteRange
    }
    public var elementCount: Int { shape.reduce(1, *) }

    /// The tensor as F32 values (dequantized or widened).
    public func floats() -> [Float] {
        let n = elementCount
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
            _ = skiff_dequantize_row(Int32(type.rawValue), data.baseAddress, buffer.baseAddress, Int64(n))
            initialized = n
        }
    }
}

/// Anything that holds named tensors: a GGUF file or a safetensors folder.
public protocol TensorSource: Sendable {
    var tensorNames: [String] { get }
    func tensor(named name: String) throws(ModelFileError) -> Tensor
}

extension TensorSource {
    public func contains(_ name: String) -> Bool { tensorNames.contains(name) }
}
