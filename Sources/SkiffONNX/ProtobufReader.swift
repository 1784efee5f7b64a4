/// A cursor over protobuf wire-format bytes. Every read is bounds-checked, so a
/// truncated file becomes an `ONNXError.truncated` naming the message being read.
struct ProtobufReader {
    enum WireType: Int {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
    }

    let bytes: UnsafeRawBufferPointer
    /// Absolute offset of `bytes[0]` in the file, for error messages.
    let base: Int
    var position: Int
    let end: Int
    let what: String

    init(bytes: UnsafeRawBufferPointer, range: Range<Int>, base: Int = 0, what: String) {
        self.bytes = bytes
        self.base = base
        self.position = range.lowerBound
        self.end = range.upperBound
        self.what = what
    }

    var atEnd: Bool { position >= end }

    mutating func varint() throws(ONNXError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .truncated(what: what, offset: base + position) }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw .malformed(what: what, offset: base + position, reason: "varint longer than 10 bytes") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// The next field's number and wire type.
    mutating func tag() throws(ONNXError) -> (field: Int, wire: WireType) {
        let start = position
        let key = try varint()
        guard let wire = WireType(rawValue: Int(key & 7)), key >> 3 > 0 else {
            throw .malformed(what: what, offset: base + start, reason: "invalid field key \(key)")
        }
        return (Int(key >> 3), wire)
    }

    mutating func fixed32() throws(ONNXError) -> UInt32 {
        guard end - position >= 4 else { throw .truncated(what: what, offset: base + position) }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
        position += 4
        return v
    }

    mutating func fixed64() throws(ONNXError) -> UInt64 {
        guard end - position >= 8 else { throw .truncated(what: what, offset: base + position) }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return v
    }

    /// The byte range of a length-delimited field's payload; the cursor moves past it.
    mutating func lengthDelimited() throws(ONNXError) -> Range<Int> {
        let start = position
        let length = try varint()
        guard length <= UInt64(end - position) else { throw .truncated(what: what, offset: base + start) }
        let range = position..<(position + Int(length))
        position = range.upperBound
        return range
    }

    mutating func string() throws(ONNXError) -> String {
        let range = try lengthDelimited()
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// A reader for an embedded message.
    mutating func message(_ what: String) throws(ONNXError) -> ProtobufReader {
        let range = try lengthDelimited()
        return ProtobufReader(bytes: bytes, range: range, base: base, what: what)
    }

    mutating func skip(_ wire: WireType) throws(ONNXError) {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        case .startGroup, .endGroup:
            throw .malformed(what: what, offset: base + position, reason: "protobuf groups are not used by ONNX")
        }
    }

    /// A repeated int64 field, packed or one value per tag; appends to `values`.
    mutating func int64s(_ wire: WireType, into values: inout [Int64]) throws(ONNXError) {
        if wire == .lengthDelimited {
            var inner = try message(what)
            while !inner.atEnd { values.append(Int64(bitPattern: try inner.varint())) }
            position = max(position, inner.position)
        } else if wire == .varint {
            values.append(Int64(bitPattern: try varint()))
        } else {
            throw .malformed(what: what, offset: base + position, reason: "integer field with wire type \(wire.rawValue)")
        }
    }

    /// A repeated float field, packed or one value per tag; appends to `values`.
    mutating func floats(_ wire: WireType, into values: inout [Float]) throws(ONNXError) {
        if wire == .lengthDelimited {
            let range = try lengthDelimited()
            guard range.count % 4 == 0 else {
                throw .malformed(what: what, offset: base + range.lowerBound, reason: "packed floats of \(range.count) bytes")
            }
            var inner = ProtobufReader(bytes: bytes, range: range, base: base, what: what)
            while !inner.atEnd { values.append(Float(bitPattern: try inner.fixed32())) }
        } else if wire == .fixed32 {
            values.append(Float(bitPattern: try fixed32()))
        } else {
            throw .malformed(what: what, offset: base + position, reason: "float field with wire type \(wire.rawValue)")
        }
    }
}
