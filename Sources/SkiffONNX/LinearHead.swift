internal import CSkiffKernels

/// A graph's final product by a constant weight [dim, classes] (and the constant bias added to
/// it), split off the graph so that a consumer that only wants each row's best class — CTC
/// greedy decoding over PP-OCRv5's 18,385 classes — gets it without the rows x classes logits
/// tensor: the product runs a few rows at a time into a buffer that stays in cache, and the
/// maximum and softmax denominator are taken there (`best`). `logits` still gives the full
/// tensor, with the same products.
public struct LinearHead: Sendable {
    /// [dim, classes], row-major.
    public let weight: [Float]
    public let bias: [Float]?
    public let dim: Int
    public let classes: Int
    /// The transposed weight packed for bfloat16 products (`withBFloat16Products`), and the
    /// largest Euclidean norm of a weight column, which bounds the products' rounding error.
    let bfloat16Weight: [UInt32]?
    let columnNormMax: Float

    public init(weight: [Float], bias: [Float]?, dim: Int, classes: Int) {
        self.weight = weight
        self.bias = bias
        self.dim = dim
        self.classes = classes
        bfloat16Weight = nil
        columnNormMax = 0
    }

    private init(_ head: LinearHead, bfloat16Weight: [UInt32], columnNormMax: Float) {
        weight = head.weight
        bias = head.bias
        dim = head.dim
        classes = head.classes
        self.bfloat16Weight = bfloat16Weight
        self.columnNormMax = columnNormMax
    }

    /// Whether `best` runs its products in bfloat16.
    public var usesBFloat16: Bool { bfloat16Weight != nil }

    /// This head with `best`'s products in bfloat16 where the CPU has AVX512-BF16 (itself
    /// elsewhere). The class chosen for each row stays the fp32 one: rows whose two best
    /// logits are too close to tell apart under the rounding bound are recomputed in fp32. The
    /// probability is taken from the bf16 logits, except on those rows. `logits` stays fp32.
    public func withBFloat16Products() -> LinearHead {
        guard ProductPrecision.bfloat16IsAvailable, bfloat16Weight == nil, dim > 0, classes > 0,
              weight.count == dim * classes else { return self }
        var transposed = [Float](repeating: 0, count: dim * classes)
        var normMax: Float = 0
        for c in 0..<classes {
            var n2: Double = 0
            for j in 0..<dim {
                let v = weight[j * classes + c]
                transposed[c * dim + j] = v
                n2 += Double(v) * Double(v)
            }
            normMax = max(normMax, Float(n2.squareRoot()))
        }
        var packed = [UInt32](repeating: 0, count: Int(skiff_bf16_packed_words(Int64(classes), Int64(dim))))
        packed.withUnsafeMutableBufferPointer { skiff_bf16_pack_weights(transposed, Int64(classes), Int64(dim), $0.baseAddress) }
        // Rounded up so that the bound stays a bound.
        return LinearHead(self, bfloat16Weight: packed, columnNormMax: normMax.nextUp)
    }

    /// Removes the MatMul (and Add, and Identity nodes) that produce the graph's only output when
    /// the weight and bias are constants and nothing else reads the values in between; the graph
    /// then outputs the MatMul's input. Returns nil, leaving the model unchanged, otherwise.
    public static func split(_ model: inout ONNXModel) -> LinearHead? {
        var graph = model.graph
        guard graph.outputs.count == 1 else { return nil }
        var producer: [String: Int] = [:]
        var readers: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for o in node.outputs { producer[o] = i }
            for name in Set(node.inputs) where !name.isEmpty { readers[name, default: 0] += 1 }
        }
        var removed: [Int] = []
        var current = graph.outputs[0]
        func soleProducer(_ name: String) -> Int? {
            guard let p = producer[name], readers[name, default: 0] <= (name == graph.outputs[0] ? 0 : 1) else { return nil }
            return p
        }
        while let p = soleProducer(current), graph.nodes[p].opType == "Identity", let input = graph.nodes[p].inputs.first {
            removed.append(p)
            current = input
        }
        var bias: Tensor?
        if let p = soleProducer(current), graph.nodes[p].opType == "Add", graph.nodes[p].inputs.count == 2 {
            let add = graph.nodes[p]
            let constantSide = add.inputs.firstIndex { graph.initializers[$0] != nil }
            guard let k = constantSide, let b = graph.initializers[add.inputs[k]], b.isFloat else { return nil }
            bias = b
            removed.append(p)
            current = add.inputs[1 - k]
        }
        guard let p = soleProducer(current), graph.nodes[p].opType == "MatMul", graph.nodes[p].inputs.count == 2,
              let w = graph.initializers[graph.nodes[p].inputs[1]], w.isFloat, w.shape.count == 2 else { return nil }
        let (dim, classes) = (w.shape[0], w.shape[1])
        if let bias, bias.count != classes || bias.shape.dropLast().contains(where: { $0 != 1 }) { return nil }
        removed.append(p)
        let input = graph.nodes[p].inputs[0]
        let weightName = graph.nodes[p].inputs[1]
        let biasName = bias == nil ? nil : graph.nodes[removed[removed.count - 2]].inputs.first { graph.initializers[$0] != nil }
        for i in removed.sorted(by: >) { graph.nodes.remove(at: i) }
        graph.outputs = [input]
        // The head keeps its own copy; drop the graph's when nothing else reads it.
        let stillRead = Set(graph.nodes.flatMap(\.inputs))
        for name in [weightName, biasName].compactMap({ $0 }) where !stillRead.contains(name) { graph.initializers[name] = nil }
        model.graph = graph
        return LinearHead(weight: w.floats, bias: bias?.floats, dim: dim, classes: classes)
    }

    func rows(_ x: Tensor, _ what: String) throws(ONNXError) -> Int {
        guard x.isFloat, let last = x.shape.last, last == dim else {
            throw .shapeMismatch(op: "MatMul", node: "linear head", reason: "\(what) of shape \(x.shape) does not end in \(dim)")
        }
        return x.count / max(dim, 1)
    }

    /// x [..., dim] · weight + bias: [..., classes].
    public func logits(_ x: Tensor, threads: Int = 1) throws(ONNXError) -> Tensor {
        let rows = try rows(x, "input")
        let xv = x.floats
        let out = [Float](unsafeUninitializedCapacity: rows * classes) { o, count in
            skiff_vision_set_blas_threads(Int32(max(1, threads)))
            skiff_sgemm_nn(Int64(rows), Int64(classes), Int64(dim), 1, xv, Int64(dim), weight, Int64(classes), 0,
                           o.baseAddress, Int64(classes))
            if let bias {
                for r in 0..<rows { for c in 0..<classes { o[r * classes + c] += bias[c] } }
            }
            count = rows * classes
        }
        return Tensor(shape: Array(x.shape.dropLast()) + [classes], floats: out)
    }

    /// For each row of x [..., dim]: the first class of the largest logit, and its softmax
    /// probability 1 / Σ exp(l − l_max).
    public func best(_ x: Tensor, threads: Int) throws(ONNXError) -> (classes: [Int32], probabilities: [Float]) {
        let rows = try rows(x, "input")
        let start = SessionProfiler.isEnabled ? SessionProfiler.now() : (wall: 0, cpu: 0)
        let xv = x.floats
        var best = [Int32](repeating: 0, count: rows), prob = [Float](repeating: 0, count: rows)
        let scratchCount = Int(skiff_ctc_head_scratch_floats(Int64(classes), Int32(threads)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchCount, 1))
        defer { scratch.deallocate() }
        var recomputed = -1
        best.withUnsafeMutableBufferPointer { b in prob.withUnsafeMutableBufferPointer { p in
            Self.withOptional(bias) { bp in
                if let packed = bfloat16Weight {
                    recomputed = Int(skiff_ctc_head_bf16(xv, Int64(rows), Int64(dim), weight, packed, columnNormMax, bp,
                                                         Int64(classes), b.baseAddress, p.baseAddress, scratch, Int32(threads)))
                }
                if recomputed < 0 {
                    skiff_ctc_head(xv, Int64(rows), Int64(dim), weight, bp, Int64(classes), b.baseAddress, p.baseAddress,
                                   scratch, Int32(threads))
                }
            }
        } }
        if SessionProfiler.isEnabled {
            let end = SessionProfiler.now()
            var shape = x.shape.map(String.init).joined(separator: "x") + " -> best of \(classes)"
            if recomputed >= 0 { shape += ", \(recomputed) of \(rows) rows recomputed in fp32" }
            SessionProfiler.shared.record(session: "linear head + best class", steps: [
                (recomputed >= 0 ? "MatMul+Add+best bf16 (fused)" : "MatMul+Add+best (fused)", "head", shape,
                 end.wall - start.wall, end.cpu - start.cpu, 2 * Double(rows) * Double(dim) * Double(classes)),
            ], wall: end.wall - start.wall, cpu: end.cpu - start.cpu)
        }
        return (best, prob)
    }

    /// The same figures from logits already computed: `rows` rows of `classes` values.
    public static func best(logits: UnsafePointer<Float>, rows: Int, classes: Int,
                            threads: Int = 1) -> (classes: [Int32], probabilities: [Float]) {
        var best = [Int32](repeating: 0, count: rows), prob = [Float](repeating: 0, count: rows)
        best.withUnsafeMutableBufferPointer { b in prob.withUnsafeMutableBufferPointer { p in
            skiff_ctc_best(logits, Int64(rows), Int64(classes), b.baseAddress, p.baseAddress, Int32(threads))
        } }
        return (best, prob)
    }

    static func withOptional<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let values else { return body(nil) }
        return values.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
