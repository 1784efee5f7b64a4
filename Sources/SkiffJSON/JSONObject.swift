/// A JSON object: members in document order, with a hash index for larger objects so that
/// lookups stay O(1) on wide schemas and instances.
public struct JSONObject: Sendable {
    public private(set) var keys: [String] = []
    public private(set) var values: [JSONValue] = []
    // Built only past a few members: linear search is faster for small objects and the
    // parser then allocates nothing extra for them.
    private var index: [String: Int]? = nil
    private static let indexThreshold = 32

    public init() {}

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// Members in document order.
    public var members: Zip2Sequence<[String], [JSONValue]> { zip(keys, values) }

    /// Where `key` is, comparing code points: JSON does not equate canonically equivalent
    /// strings ("é" and "e\u{301}" are different keys), which Swift's `==` would.
    public func position(of key: String) -> Int? {
        if let index {
            // The index hashes with Swift's equality: a hit is exact unless the key only
            // matched a canonically equivalent one, and then a scan decides.
            guard let i = index[key] else { return nil }
            if JSONValue.sameCodePoints(keys[i], key) { return i }
        }
        // Byte length first: O(1), and it rejects almost every non-matching key.
        let n = key.utf8.count
        for i in keys.indices where keys[i].utf8.count == n && JSONValue.sameCodePoints(keys[i], key) { return i }
        return nil
    }

    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { values[$0] } }
        set {
            if let i = position(of: key) {
                if let newValue { values[i] = newValue } else { remove(at: i) }
            } else if let newValue {
                append(key, newValue)
            }
        }
    }

    /// Appends a member without checking for an existing one (the parser checks).
    mutating func append(_ key: String, _ value: JSONValue) {
        keys.append(key)
        values.append(value)
        if index != nil {
            index?[key] = keys.count - 1
        } else if keys.count > Self.indexThreshold {
            var built = [String: Int](minimumCapacity: keys.count * 2)
            for (i, k) in keys.enumerated() where built[k] == nil { built[k] = i }
            index = built
        }
    }

    mutating func replaceValue(at i: Int, with value: JSONValue) { values[i] = value }

    private mutating func remove(at i: Int) {
        keys.remove(at: i)
        values.remove(at: i)
        if index != nil {
            var built = [String: Int]()
            for (j, k) in keys.enumerated() where built[k] == nil { built[k] = j }
            index = built
        }
    }
}

extension JSONObject: Equatable, Hashable {
    /// Unordered comparison, as JSON Schema's `const`, `enum` and `uniqueItems` require.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (k, v) in lhs.members {
            guard let other = rhs[k], other == v else { return false }
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        // Order-independent: combine member hashes commutatively.
        var acc = 0
        for (k, v) in members {
            var h = Hasher()
            h.combine(k)
            h.combine(v)
            acc = acc &+ h.finalize()
        }
        hasher.combine(count)
        hasher.combine(acc)
    }
}

extension JSONObject {
    /// Calls `body` with the keys and values in document order, borrowed rather than copied
    /// (a validator walking members this way does no reference counting per member).
    @inlinable
    public func withMembers<R, E: Error>(
        _ body: (UnsafeBufferPointer<String>, UnsafeBufferPointer<JSONValue>) throws(E) -> R
    ) throws(E) -> R {
        let result: Result<R, E> = keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                do throws(E) { return .success(try body(k, v)) } catch { return .failure(error) }
            }
        }
        return try result.get()
    }
}
