import Foundation

/// One `.safetensors` file: a JSON header followed by raw little-endian tensor data,
/// memory-mapped. F32, F16 and BF16 tensors are supported; others are listed but
/// reported as unsupported when read.
public final class SafetensorsFile: TensorSource, @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init.
    struct Entry {
        let dtype: String
        let shape: [Int]
        let range: Range<Int>
    }

    public let path: String
    public let metadata: [String: String]
    private let file: MappedFile
    private let entries: [String: Entry]
    public let tensorNames: [String]

    public convenience init(path: String) throws(ModelFileError) {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws(ModelFileError) {
        self.file = file
        path = file.path
        var reader = ByteReader(bytes: file.bytes, path: path)
        let headerLength = try reader.read(UInt64.self, "the header length")
        guard headerLength <= UInt64(file.bytes.count - 8) else {
            throw .truncated(path: path, offset: file.bytes.count, what: "the \(headerLength)-byte JSON header")
        }
        let headerBytes = Data(UnsafeRawBufferPointer(rebasing: file.bytes[8..<8 + Int(headerLength)]))
        guard let header = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
            throw .malformed(path: path, what: "the header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = file.bytes.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String }
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int],
                  offsets.count == 2, shape.allSatisfy({ $0 >= 0 })
            else { throw .malformed(path: path, what: "tensor '\(name)' has an invalid header entry") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw .tensorOutOfBounds(path: path, tensor: name, start: dataStart + begin, end: dataStart + end, fileSize: file.bytes.count)
            }
            if let size = Self.elementSize(dtype) {
                var count = 1
                for d in shape {
                    let r = count.multipliedReportingOverflow(by: d)
                    guard !r.overflow else { throw .malformed(path: path, what: "tensor '\(name)' shape \(shape) overflows") }
                    count = r.partialValue
                }
                guard count.multipliedReportingOverflow(by: size) == (end - begin, false) else {
                    throw .malformed(path: path, what: "tensor '\(name)' has \(end - begin) bytes, shape \(shape) of \(dtype) needs \(count * size)")
                }
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: dataStart + begin..<dataStart + end)
        }
        self.entries = entries
        self.metadata = metadata
        tensorNames = entries.keys.sorted()
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F32", "I32", "U32": 4
        case "F16", "BF16", "I16", "U16": 2
        case "F64", "I64", "U64": 8
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": 1
        default: nil
        }
    }

    public func tensor(named name: String) throws(ModelFileError) -> Tensor {
        guard let e = entries[name] else { throw .tensorNotFound(name: name) }
        let type: TensorType
        switch e.dtype {
        case "F32": type = .f32
        case "F16": type = .f16
        case "BF16": type = .bf16
        default: throw .unsupportedTensorType(path: path, tensor: name, type: e.dtype)
        }
        return Tensor(name: name, type: type, shape: e.shape, file: file, byteRange: e.range)
    }
}

/// A Hugging Face model folder: `model.safetensors`, or shards listed in
/// `model.safetensors.index.json`, read as one tensor source.
public final class SafetensorsFolder: TensorSource, @unchecked Sendable {
    // @unchecked: immutable after init.
    public let path: String
    private let files: [SafetensorsFile]
    private let owner: [String: Int]
    public let tensorNames: [String]

    public init(path: String) throws(ModelFileError) {
        self.path = path
        let fm = FileManager.default
        let indexPath = path + "/model.safetensors.index.json"
        var shardNames: [String]
        if fm.fileExists(atPath: indexPath) {
            guard let data = fm.contents(atPath: indexPath),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = json["weight_map"] as? [String: String]
            else { throw .malformed(path: indexPath, what: "no 'weight_map' object") }
            shardNames = Array(Set(map.values)).sorted()
            guard shardNames.allSatisfy({ !$0.contains("/") && !$0.hasPrefix(".") }) else {
                throw .malformed(path: indexPath, what: "a shard name points outside the folder")
            }
        } else if fm.fileExists(atPath: path + "/model.safetensors") {
            shardNames = ["model.safetensors"]
        } else {
            throw .cannotOpen(path: path, reason: "no model.safetensors or model.safetensors.index.json")
        }
        var files: [SafetensorsFile] = []
        var owner: [String: Int] = [:]
        for name in shardNames {
            let file = try SafetensorsFile(path: path + "/" + name)
            for t in file.tensorNames { owner[t] = files.count }
            files.append(file)
        }
        self.files = files
        self.owner = owner
        tensorNames = owner.keys.sorted()
    }

    public func tensor(named name: String) throws(ModelFileError) -> Tensor {
        guard let i = owner[name] else { throw .tensorNotFound(name: name) }
        return try files[i].tensor(named: name)
    }
}
