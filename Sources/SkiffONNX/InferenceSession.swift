internal import CSkiffKernels

/// A convolution with everything that follows it folded in: BatchNormalization and bias
/// additions become its weights and bias; the activation and a scalar affine after it
/// (PP-OCRv5's "learnable affine blocks") run in the same pass over the output.
struct FusedConv: Sendable {
    var weight: [Float]
    var bias: [Float]?
    var outChannels: Int
    var kernel: (h: Int, w: Int)
    var strides: (h: Int, w: Int)
    /// top, left, bottom, right
    var pads: (t: Int, l: Int, b: Int, r: Int)
    var dilations: (h: Int, w: Int)
    var groups: Int
    /// ConvTranspose with kernel == stride (weight pre-arranged [oc * kh * kw, c]).
    var transposed: Bool
    var activation: Int32 = Int32(SKIFF_ACT_NONE.rawValue)
    var alpha: Float = 0
    var beta: Float = 0
    var postScale: Float = 1
    var postShift: Float = 0
    /// The weight packed for bfloat16 products (`SessionOptions.precision` .bfloat16 on a CPU
    /// with AVX512-BF16; groups == 1 only), nil for fp32 products.
    var bfloat16Weight: [UInt32]?

    var epilogue: skiff_epilogue {
        skiff_epilogue(act: activation, alpha: alpha, beta: beta, post_scale: postScale, post_shift: postShift)
    }

    var hasEpilogue: Bool { activation != Int32(SKIFF_ACT_NONE.rawValue) || postScale != 1 || postShift != 0 }

    /// Inputs per output: channels per group x kernel area (not meaningful when transposed).
    var depth: Int { weight.count / max(outChannels, 1) }

    /// The weight packed for skiff_conv2d's bfloat16 products (skiff_bf16_pack_weights).
    func bfloat16Packed() -> [UInt32] {
        let words = Int(skiff_bf16_packed_words(Int64(outChannels), Int64(depth)))
        return weight.withUnsafeBufferPointer { w in
            [UInt32](unsafeUninitializedCapacity: words) { out, count in
                skiff_bf16_pack_weights(w.baseAddress, Int64(outChannels), Int64(depth), out.baseAddress)
                count = words
            }
        }
    }
}

/// One step of a compiled graph.
struct Step: Sendable {
    enum Kind: Sendable {
        case conv(FusedConv)
        case layerNorm(gamma: [Float]?, beta: [Float]?, epsilon: Float)
        case node
    }

    var kind: Kind
    var node: Node
    var inputs: [Int]
    var outputs: [Int]
    /// Values whose last reader is this step, freed after it runs.
    var releases: [Int] = []

    /// The step's kind for the profiler: the operator, or for a fused convolution its shape
    /// class (depthwise, 1x1, kernel and stride) and epilogue.
    var profileKind: String {
        switch kind {
        case let .conv(c):
            if c.transposed { return "ConvTranspose \(c.kernel.h)x\(c.kernel.w)" }
            var s = "Conv \(c.kernel.h)x\(c.kernel.w)"
            if c.strides != (1, 1) { s += " s\(c.strides.h)" + (c.strides.w != c.strides.h ? "x\(c.strides.w)" : "") }
            if c.groups > 1 { s += c.groups == c.outChannels && c.weight.count == c.outChannels * c.kernel.h * c.kernel.w ? " dw" : " g\(c.groups)" }
            if c.bfloat16Weight != nil { s += " bf16" }
            switch c.activation {
            case Int32(SKIFF_ACT_RELU.rawValue): s += " +relu"
            case Int32(SKIFF_ACT_HARDSWISH.rawValue): s += " +hswish"
            case Int32(SKIFF_ACT_SWISH.rawValue): s += " +swish"
            case Int32(SKIFF_ACT_SIGMOID.rawValue): s += " +sigmoid"
            case Int32(SKIFF_ACT_HARDSIGMOID.rawValue): s += " +hsigmoid"
            default: break
            }
            return s
        case .layerNorm: return "LayerNorm (fused)"
        case .node: return node.opType
        }
    }
}

/// How convolution products are computed.
public enum ProductPrecision: String, Sendable, Hashable, CaseIterable {
    /// fp32 operands and sums (OpenBLAS sgemm): the reference's arithmetic, up to summation order.
    case float32
    /// Operands rounded to bfloat16, fp32 sums, on CPUs with AVX512-BF16 (about twice the
    /// multiply-adds per cycle); elsewhere the same as `float32`. Each operand moves by up to
    /// 2^-9 of itself, so outputs differ from fp32 by ~1e-3 and a close call can go the other way.
    case bfloat16

    /// Whether `bfloat16` changes anything on this CPU.
    public static var bfloat16IsAvailable: Bool { skiff_bf16_supported() != 0 }
}

/// Options for running a model.
public struct SessionOptions: Sendable, Hashable {
    /// Threads for products (OpenBLAS) and element-wise loops.
    public var threads: Int
    /// Fold BatchNormalization, biases and activations into convolutions (off only for tests).
    public var fuse: Bool
    /// Arithmetic of the fused convolutions' products (unfused runs are always fp32).
    public var precision: ProductPrecision
    /// With `.bfloat16`, products whose depth (inputs per output: channels per group x kernel
    /// area) is below this stay fp32. Shallow sums keep more of each operand's rounding error;
    /// deep ones average it out.
    public var bfloat16MinimumDepth: Int

    public init(threads: Int = 2, fuse: Bool = true, precision: ProductPrecision = .float32,
                bfloat16MinimumDepth: Int = 0) {
        self.threads = threads
        self.fuse = fuse
        self.precision = precision
        self.bfloat16MinimumDepth = bfloat16MinimumDepth
    }
}

/// A loaded ONNX graph, compiled once into a list of steps (identities removed, constant
/// sub-graphs evaluated, convolutions fused), then run any number of times with inputs
/// of any size the graph allows. Immutable after loading, so one session can serve
/// several callers; each run has its own values.
public final class InferenceSession: Sendable {
    public let inputNames: [String]
    public let outputNames: [String]
    public let options: SessionOptions
    /// The name the profiler reports this session under (the model file's name when loaded from a path).
    public let label: String
    let steps: [Step]
    /// Steps a run executes (after aliasing, constant folding and fusion).
    public var stepCount: Int { steps.count }
    let constants: [Int: Tensor]
    let slotCount: Int
    let inputSlots: [Int]
    let outputSlots: [Int]

    /// The operators this runtime implements.
    public static let supportedOperators: Set<String> = [
        "Conv", "ConvTranspose", "BatchNormalization", "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Relu",
        "Sigmoid", "HardSigmoid", "HardSwish", "GlobalAveragePool", "AveragePool", "Resize", "Concat",
        "Identity", "Constant", "Shape", "Slice", "Squeeze", "Unsqueeze", "Reshape", "Transpose", "ReduceMean",
        "MatMul", "Softmax", "Flatten",
    ]

    public convenience init(path: String, options: SessionOptions = SessionOptions()) throws(ONNXError) {
        try self.init(model: ONNXModel(contentsOf: path), options: options,
                      label: String(path.split(separator: "/").last ?? Substring(path)))
    }

    public init(model: ONNXModel, options: SessionOptions = SessionOptions(), label: String? = nil) throws(ONNXError) {
        skiff_onnx_tune_malloc()
        let graph = model.graph
        self.options = options
        self.label = label ?? (graph.name.isEmpty ? "graph" : graph.name)
        inputNames = graph.inputs
        outputNames = graph.outputs

        for node in graph.nodes where !Self.supportedOperators.contains(node.opType) || !(node.domain.isEmpty || node.domain == "ai.onnx") {
            throw .unsupportedOperator(op: node.domain.isEmpty ? node.opType : "\(node.domain).\(node.opType)",
                                       node: node.name)
        }

        // Identity nodes become aliases; Constant nodes become initializers.
        var alias: [String: String] = [:]
        func resolve(_ name: String) -> String {
            var n = name
            while let next = alias[n] { n = next }
            return n
        }
        var known = graph.initializers
        var nodes: [Node] = []
        for var node in graph.nodes {
            node.inputs = node.inputs.map { $0.isEmpty ? $0 : resolve($0) }
            if node.opType == "Identity", let input = node.inputs.first, let output = node.outputs.first {
                alias[output] = input
                continue
            }
            if node.opType == "Constant", let output = node.outputs.first {
                guard case let .tensor(t) = node.attributes["value"] else {
                    throw .unsupportedAttribute(op: "Constant", node: node.name, reason: "only a 'value' tensor is supported")
                }
                known[output] = t
                continue
            }
            nodes.append(node)
        }
        let outputs = graph.outputs.map(resolve)

        // Constant folding: a node whose inputs are all known is evaluated now.
        var runtimeNodes: [Node] = []
        for node in nodes {
            if node.inputs.allSatisfy({ $0.isEmpty || known[$0] != nil }), node.opType != "Shape" || known[node.inputs[0]] != nil {
                let inputs = node.inputs.map { $0.isEmpty ? nil : known[$0] }
                let results = try Kernels.evaluate(node, inputs, threads: 1)
                for (name, value) in zip(node.outputs, results) { known[name] = value }
            } else {
                runtimeNodes.append(node)
            }
        }

        // Compile to steps, fusing where a value has a single reader.
        var compiled = try Self.compile(runtimeNodes, constants: known, outputs: Set(outputs), fuse: options.fuse)

        // Slots: every value name gets an index.
        var slots: [String: Int] = [:]
        func slot(_ name: String) -> Int {
            if let s = slots[name] { return s }
            slots[name] = slots.count
            return slots.count - 1
        }
        var constantSlots: [Int: Tensor] = [:]
        var steps: [Step] = []
        let inputSlots = graph.inputs.map(slot)
        for i in compiled.indices {
            let node = compiled[i].node
            var inputs: [Int] = []
            for name in compiled[i].inputNames {
                if name.isEmpty { inputs.append(-1); continue }
                let s = slot(name)
                if let c = known[name] { constantSlots[s] = c }
                inputs.append(s)
            }
            var kind = compiled[i].kind
            if case var .conv(conv) = kind, options.precision == .bfloat16, ProductPrecision.bfloat16IsAvailable,
               !conv.transposed, conv.groups == 1, conv.depth >= options.bfloat16MinimumDepth {
                conv.bfloat16Weight = conv.bfloat16Packed()
                kind = .conv(conv)
            }
            steps.append(Step(kind: kind, node: node, inputs: inputs, outputs: node.outputs.map(slot)))
        }
        compiled.removeAll()
        // Graph outputs that are constants or inputs still need a slot.
        let outputSlots = outputs.map(slot)
        for (name, s) in slots where known[name] != nil { constantSlots[s] = known[name] }
        // Producers must exist for every runtime value.
        var produced = Set(inputSlots).union(constantSlots.keys)
        for step in steps {
            for (k, s) in step.inputs.enumerated() where s >= 0 && !produced.contains(s) {
                let name = slots.first { $0.value == s }?.key ?? "?"
                _ = k
                throw .missingValue(name: name, node: step.node.name)
            }
            produced.formUnion(step.outputs)
        }
        for (name, s) in zip(outputs, outputSlots) where !produced.contains(s) {
            throw .missingValue(name: name, node: "graph output")
        }
        // Free each runtime value after its last reader.
        var lastUse: [Int: Int] = [:]
        for (i, step) in steps.enumerated() { for s in step.inputs where s >= 0 { lastUse[s] = i } }
        let keep = Set(outputSlots).union(constantSlots.keys)
        for (s, i) in lastUse where !keep.contains(s) { steps[i].releases.append(s) }

        self.steps = steps
        self.constants = constantSlots
        self.slotCount = slots.count
        self.inputSlots = inputSlots
        self.outputSlots = outputSlots
    }

    /// Runs the graph. `inputs` must name every graph input; returns every graph output.
    public func run(_ inputs: [String: Tensor]) throws(ONNXError) -> [String: Tensor] {
        try run(inputs, threads: options.threads)
    }

    /// Runs the graph on `threads` threads instead of the options' (one thread: several runs
    /// may go on side by side, each on its caller's thread).
    public func run(_ inputs: [String: Tensor], threads: Int) throws(ONNXError) -> [String: Tensor] {
        let threads = max(1, threads)
        var values = [Tensor?](repeating: nil, count: slotCount)
        for (s, t) in constants { values[s] = t }
        for (name, s) in zip(inputNames, inputSlots) {
            guard let t = inputs[name] else { throw .badInput("missing input '\(name)'") }
            guard t.isFloat else { throw .badInput("input '\(name)' must be float32") }
            values[s] = t
        }
        for name in inputs.keys where !inputNames.contains(name) {
            throw .badInput("the graph has no input '\(name)' (inputs: \(inputNames.joined(separator: ", ")))")
        }
        skiff_vision_set_blas_threads(Int32(threads))
        let profiling = SessionProfiler.isEnabled
        // A one-thread run is timed on its own thread's clock, so that runs side by side do not
        // count each other's CPU time.
        let threadClock = threads == 1
        var timings: [(kind: String, node: String, shapes: String, wall: Double, cpu: Double, flops: Double)] = []
        let runStart = profiling ? SessionProfiler.now(thread: threadClock) : (wall: 0, cpu: 0)
        for step in steps {
            let stepStart = profiling ? SessionProfiler.now(thread: threadClock) : (wall: 0, cpu: 0)
            let args = step.inputs.map { $0 >= 0 ? values[$0] : nil }
            let results: [Tensor]
            switch step.kind {
            case let .conv(conv):
                guard let x = args[0] else { throw .missingValue(name: step.node.inputs[0], node: step.node.name) }
                results = [try Kernels.conv(conv, x, node: step.node, threads: threads)]
            case let .layerNorm(gamma, beta, epsilon):
                guard let x = args[0] else { throw .missingValue(name: step.node.inputs[0], node: step.node.name) }
                results = [Kernels.layerNorm(x, gamma: gamma, beta: beta, epsilon: epsilon)]
            case .node:
                results = try Kernels.evaluate(step.node, args, threads: threads)
            }
            if profiling {
                let end = SessionProfiler.now(thread: threadClock)
                let shapes = args.compactMap { $0.map { $0.shape.map(String.init).joined(separator: "x") } }.joined(separator: ", ")
                    + " -> " + results.map { $0.shape.map(String.init).joined(separator: "x") }.joined(separator: ", ")
                timings.append((step.profileKind, step.node.name, shapes, end.wall - stepStart.wall, end.cpu - stepStart.cpu,
                                SessionProfiler.flops(step, inputs: args, outputs: results)))
            }
            for (s, r) in zip(step.outputs, results) { values[s] = r }
            for s in step.releases { values[s] = nil }
        }
        if profiling {
            let end = SessionProfiler.now(thread: threadClock)
            SessionProfiler.shared.record(session: label, steps: timings, wall: end.wall - runStart.wall, cpu: end.cpu - runStart.cpu)
        }
        var out: [String: Tensor] = [:]
        for (name, s) in zip(outputNames, outputSlots) { out[name] = values[s] }
        return out
    }

    /// Runs a graph with one input and returns its first output.
    public func run(_ input: Tensor) throws(ONNXError) -> Tensor {
        try run(input, threads: options.threads)
    }

    /// Runs a graph with one input on `threads` threads and returns its first output.
    public func run(_ input: Tensor, threads: Int) throws(ONNXError) -> Tensor {
        guard inputNames.count == 1, let name = inputNames.first else {
            throw .badInput("the graph has \(inputNames.count) inputs; name them")
        }
        guard let first = outputNames.first, let result = try run([name: input], threads: threads)[first] else {
            throw .badInput("the graph produced no output")
        }
        return result
    }
}
