/// A metadata value of a GGUF file.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var intValue: Int? {
        switch self {
        case let .uint(v): v <= UInt64(Int.max) ? Int(v) : nil
        case let .int(v): Int(v)
        default: nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case let .float(v): v
        case let .uint(v): Double(v)
        case let .int(v): Double(v)
        default: nil
        }
    }
    public var stringValue: String? { if case let .string(s) = self { s } else { nil } }
    public var arrayValue: [GGUFValue]? { if case let .array(a) = self { a } else { nil } }
}

/// A GGUF (v2/v3) model file: metadata, tensor table and memory-mapped tensor data.
/// Every offset and size is checked against the file, so a truncated or corrupt
/// file gives a `ModelFileError` naming the tensor instead of an out-of-bounds read.
public final class GGUFFile: TensorSource, @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init.
    public struct TensorEntry: Sendable {
        public let name: String
        public let rawType: UInt32
        /// Outermost dimension first (GGUF stores innermost first; reversed here).
        public let shape: [Int]
        /// Offset from the start of the file.
        public let fileOffset: Int
    }

    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    public let alignment: Int
    public let entries: [TensorEntry]
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    public var tensorNames: [String] { entries.map(\.name) }

    public convenience init(path: String) throws(ModelFileError) {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws(ModelFileError) {
        self.file = file
        path = file.path
        var reader = ByteReader(bytes: file.bytes, path: file.path)
        let magic = try reader.read(UInt32.self, "the header")
        guard magic == 0x4655_4747 else { throw .notGGUF(path: path) }
        version = try reader.read(UInt32.self, "the header")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(path: path, version: version) }
        let tensorCount = try reader.read(UInt64.self, "the header")
        let kvCount = try reader.read(UInt64.self, "the header")
        // Each entry takes at least 8 bytes: counts larger than the file are corrupt.
        guard tensorCount <= UInt64(file.bytes.count / 8), kvCount <= UInt64(file.bytes.count / 8) else {
            throw .malformed(path: path, what: "tensor count \(tensorCount) / key count \(kvCount) exceed the file size")
        }
        var metadata: [String: GGUFValue] = [:]
        for i in 0..<Int(kvCount) {
            let key = try reader.readString("metadata key #\(i)")
            let type = try reader.read(UInt32.self, "metadata '\(key)'")
            metadata[key] = try Self.readValue(&reader, type: type, key: key, depth: 0)
        }
        self.metadata = metadata
        let alignment = metadata["general.alignment"]?.intValue ?? 32
        guard alignment > 0, alignment & (alignment - 1) == 0 else {
            throw .malformed(path: path, what: "general.alignment \(alignment) is not a power of two")
        }
        self.alignment = alignment

        var raw: [(String, UInt32, [Int], UInt64)] = []
        for i in 0..<Int(tensorCount) {
            let name = try reader.readString("tensor info #\(i)")
            let dimCount = try reader.read(UInt32.self, "tensor info '\(name)'")
            guard dimCount >= 1, dimCount <= 4 else {
                throw .malformed(path: path, what: "tensor '\(name)' has \(dimCount) dimensions")
            }
            var dims: [Int] = []
            for _ in 0..<dimCount {
                let d = try reader.read(UInt64.self, "tensor info '\(name)'")
                guard d <= UInt64(Int32.max) else { throw .malformed(path: path, what: "tensor '\(name)' dimension \(d) is too large") }
                dims.append(Int(d))
            }
            let type = try reader.read(UInt32.self, "tensor info '\(name)'")
            let offset = try reader.read(UInt64.self, "tensor info '\(name)'")
            raw.append((name, type, dims.reversed(), offset))
        }
        let dataOffset = (reader.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        var entries: [TensorEntry] = []
        var index: [String: Int] = [:]
        for (name, type, shape, offset) in raw {
            guard offset % UInt64(alignment) == 0 else {
                throw .malformed(path: path, what: "tensor '\(name)' offset \(offset) is not aligned to \(alignment)")
            }
            guard offset <= UInt64(file.bytes.count) else {
                throw .tensorOutOfBounds(path: path, tensor: name, start: dataOffset, end: Int.max, fileSize: file.bytes.count)
            }
            let start = dataOffset + Int(offset)
            if let known = TensorType(rawValue: type) {
                let (count, overflow) = shape.reduce((1, false)) { acc, d in
                    let r = acc.0.multipliedReportingOverflow(by: d)
                    return (r.partialValue, acc.1 || r.overflow)
                }
                guard !overflow, let bytes = known.byteCount(elements: count) else {
                    throw .malformed(path: path, what: "tensor '\(name)' shape \(shape) does not fit type \(known)")
                }
                guard start <= file.bytes.count, bytes <= file.bytes.count - start else {
                    throw .tensorOutOfBounds(path: path, tensor: name, start: start, end: start + bytes, fileSize: file.bytes.count)
                }
            }
            guard index[name] == nil else { throw .malformed(path: path, what: "tensor '\(name)' appears twice") }
            index[name] = entries.count
            entries.append(TensorEntry(name: name, rawType: type, shape: shape, fileOffset: start))
        }
        self.entries = entries
        self.index = index
    }

    public func tensor(named name: String) throws(ModelFileError) -> Tensor {
        guard let i = index[name] else { throw .tensorNotFound(name: name) }
        let e = entries[i]
        guard let type = TensorType(rawValue: e.rawType) else {
            throw .unsupportedTensorType(path: path, tensor: name, type: TensorType.ggmlName(e.rawType))
        }
        // Sizes were checked in init.
        let bytes = type.byteCount(elements: e.shape.reduce(1, *)) ?? 0
        return Tensor(name: name, type: type, shape: e.shape, file: file, byteRange: e.fileOffset..<e.fileOffset + bytes)
    }

    private static func readValue(_ r: inout ByteReader, type: UInt32, key: String, depth: Int) throws(ModelFileError) -> GGUFValue {
        let what = "metadata '\(key)'"
        switch type {
        case 0: return .uint(UInt64(try r.read(UInt8.self, what)))
        case 1: return .int(Int64(try r.read(Int8.self, what)))
        case 2: return .uint(UInt64(try r.read(UInt16.self, what)))
        case 3: return .int(Int64(try r.read(Int16.self, what)))
        case 4: return .uint(UInt64(try r.read(UInt32.self, what)))
        case 5: return .int(Int64(try r.read(Int32.self, what)))
        case 6: return .float(Double(Float(bitPattern: try r.read(UInt32.self, what))))
        case 7: return .bool(try r.read(UInt8.self, what) != 0)
        case 8: return .string(try r.readString(what))
        case 9:
            guard depth == 0 else { throw .malformed(path: r.path, what: "\(what) nests arrays") }
            let itemType = try r.read(UInt32.self, what)
            let count = try r.read(UInt64.self, what)
            guard count <= UInt64(r.bytes.count - r.offset) else { throw .truncated(path: r.path, offset: r.bytes.count, what: what) }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { items.append(try readValue(&r, type: itemType, key: key, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint(try r.read(UInt64.self, what))
        case 11: return .int(try r.read(Int64.self, what))
        case 12: return .float(Double(bitPattern: try r.read(UInt64.self, what)))
        default: throw .malformed(path: r.path, what: "\(what) has unknown value type \(type)")
        }
    }
}
