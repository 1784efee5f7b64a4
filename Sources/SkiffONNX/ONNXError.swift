/// Why an ONNX model could not be read or run.
public enum ONNXError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// The protobuf stream ends inside a field (`what` names the message being read).
    case truncated(what: String, offset: Int)
    /// A field has a wire type or value the ONNX schema does not allow.
    case malformed(what: String, offset: Int, reason: String)
    /// A tensor element type this runtime does not handle.
    case unsupportedDataType(tensor: String, dataType: Int)
    /// An operator this runtime does not implement.
    case unsupportedOperator(op: String, node: String)
    /// An operator with attributes or inputs outside what this runtime implements.
    case unsupportedAttribute(op: String, node: String, reason: String)
    /// A node reads a value nothing produced.
    case missingValue(name: String, node: String)
    /// Shapes that do not fit together.
    case shapeMismatch(op: String, node: String, reason: String)
    /// A run was given an input the graph does not declare, or lacks one it needs.
    case badInput(String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): "cannot read ONNX model \(path): \(reason)"
        case let .truncated(what, offset): "ONNX file truncated inside \(what) at byte \(offset)"
        case let .malformed(what, offset, reason): "malformed ONNX \(what) at byte \(offset): \(reason)"
        case let .unsupportedDataType(tensor, dataType):
            "tensor '\(tensor)' has ONNX data type \(dataType); only float32, int64 and int32 are supported"
        case let .unsupportedOperator(op, node): "ONNX operator \(op) (node '\(node)') is not supported"
        case let .unsupportedAttribute(op, node, reason): "\(op) node '\(node)': \(reason)"
        case let .missingValue(name, node): "node '\(node)' reads '\(name)', which nothing produces"
        case let .shapeMismatch(op, node, reason): "\(op) node '\(node)': \(reason)"
        case let .badInput(why): "bad model input: \(why)"
        }
    }
}
