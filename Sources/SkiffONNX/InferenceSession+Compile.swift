internal import CSkiffKernels

extension InferenceSession {
    struct CompiledStep {
        var kind: Step.Kind
        var node: Node
        var inputNames: [String]
    }

    /// Turns runtime nodes into steps. With `fuse`, each Conv/ConvTranspose with constant weights
    /// absorbs the chain after it while every value in the chain has exactly one reader:
    /// BatchNormalization, per-channel or scalar Add, scalar Mul (into the weights before the
    /// activation, into the scalar affine after it), and one activation (Relu, Sigmoid,
    /// HardSigmoid, HardSwish, or the x * HardSigmoid(x) / x * Sigmoid(x) pairs exporters write).
    static func compile(_ nodes: [Node], constants: [String: Tensor], outputs: Set<String>,
                        fuse: Bool) throws(ONNXError) -> [CompiledStep] {
        var readers: [String: [Int]] = [:]
        for (i, node) in nodes.enumerated() {
            for name in Set(node.inputs) where !name.isEmpty { readers[name, default: []].append(i) }
        }
        func soleReader(_ name: String) -> Int? {
            guard !outputs.contains(name), let r = readers[name], r.count == 1 else { return nil }
            return r[0]
        }
        func constant(_ node: Node, _ k: Int) -> Tensor? {
            k < node.inputs.count ? constants[node.inputs[k]] : nil
        }

        var consumed = Set<Int>()
        var steps: [CompiledStep] = []
        for (i, node) in nodes.enumerated() where !consumed.contains(i) {
            guard fuse, node.opType == "Conv" || node.opType == "ConvTranspose",
                  let weight = constant(node, 1), node.inputs.count < 3 || constant(node, 2) != nil
            else {
                steps.append(CompiledStep(kind: .node, node: node, inputNames: node.inputs))
                continue
            }
            var conv = try Kernels.makeConv(node, weight: weight, bias: constant(node, 2))
            var current = node.outputs[0]
            let noActivation = Int32(SKIFF_ACT_NONE.rawValue)
            chain: while true {
                // x * act(x): the activation node and the Mul both read `current`.
                if conv.activation == noActivation, !outputs.contains(current), let r = readers[current], r.count == 2 {
                    let (a, m) = nodes[r[0]].opType == "Mul" ? (r[1], r[0]) : (r[0], r[1])
                    let act = nodes[a], mul = nodes[m]
                    if (act.opType == "HardSigmoid" || act.opType == "Sigmoid"), mul.opType == "Mul",
                       let actOut = act.outputs.first, soleReader(actOut) == m,
                       Set(mul.inputs) == [current, actOut], a < m {
                        if act.opType == "HardSigmoid" {
                            conv.activation = Int32(SKIFF_ACT_HARDSWISH.rawValue)
                            conv.alpha = act.float("alpha", default: 0.2)
                            conv.beta = act.float("beta", default: 0.5)
                        } else {
                            conv.activation = Int32(SKIFF_ACT_SWISH.rawValue)
                        }
                        consumed.formUnion([a, m])
                        current = mul.outputs[0]
                        continue chain
                    }
                }
                guard let j = soleReader(current) else { break }
                let next = nodes[j]
                let other = next.inputs.first { $0 != current }.flatMap { constants[$0] }
                let activated = conv.activation != noActivation
                switch next.opType {
                case "BatchNormalization" where !activated && !conv.hasEpilogue:
                    guard let s = constant(next, 1), let b = constant(next, 2), let mean = constant(next, 3),
                          let v = constant(next, 4), s.count == conv.outChannels, b.count == conv.outChannels,
                          mean.count == conv.outChannels, v.count == conv.outChannels, next.inputs[0] == current
                    else { break chain }
                    let eps = next.float("epsilon", default: 1e-5)
                    let sf = s.floats, bf = b.floats, mf = mean.floats, vf = v.floats
                    let scale = (0..<conv.outChannels).map { sf[$0] / (vf[$0] + eps).squareRoot() }
                    let shift = (0..<conv.outChannels).map { bf[$0] - mf[$0] * scale[$0] }
                    conv.scaleChannels(scale, shift: shift)
                case "Add", "Sub":
                    guard next.inputs.count == 2, let c = other, c.isFloat else { break chain }
                    // Sub is fused only as x - c.
                    if next.opType == "Sub", next.inputs[0] != current { break chain }
                    let sign: Float = next.opType == "Sub" ? -1 : 1
                    if c.count == 1 {
                        let v = sign * c.floats[0]
                        if activated || conv.postScale != 1 || conv.postShift != 0 { conv.postShift += v }
                        else { conv.addBias([Float](repeating: v, count: conv.outChannels)) }
                    } else if !activated, !conv.hasEpilogue, Kernels.isPerChannel(c.shape, channels: conv.outChannels) {
                        conv.addBias(c.floats.map { sign * $0 })
                    } else {
                        break chain
                    }
                case "Mul":
                    guard next.inputs.count == 2, let c = other, c.isFloat, c.count == 1 else { break chain }
                    let v = c.floats[0]
                    if activated || conv.hasEpilogue {
                        conv.postScale *= v
                        conv.postShift *= v
                    } else {
                        conv.scaleChannels([Float](repeating: v, count: conv.outChannels),
                                           shift: [Float](repeating: 0, count: conv.outChannels))
                    }
                case "Relu" where !activated && !conv.hasEpilogue:
                    conv.activation = Int32(SKIFF_ACT_RELU.rawValue)
                case "Sigmoid" where !activated && !conv.hasEpilogue:
                    conv.activation = Int32(SKIFF_ACT_SIGMOID.rawValue)
                case "HardSigmoid" where !activated && !conv.hasEpilogue:
                    conv.activation = Int32(SKIFF_ACT_HARDSIGMOID.rawValue)
                    conv.alpha = next.float("alpha", default: 0.2)
                    conv.beta = next.float("beta", default: 0.5)
                case "HardSwish" where !activated && !conv.hasEpilogue:
                    conv.activation = Int32(SKIFF_ACT_HARDSWISH.rawValue)
                    conv.alpha = 1.0 / 6.0
                    conv.beta = 0.5
                default:
                    break chain
                }
                consumed.insert(j)
                current = next.outputs[0]
            }
            var fused = node
            fused.outputs = [current]
            steps.append(CompiledStep(kind: .conv(conv), node: fused, inputNames: [node.inputs[0]]))
        }
        return steps
    }
}

extension FusedConv {
    /// Per output channel: w' = w * scale, b' = b * scale + shift (BatchNorm, scalar Mul).
    mutating func scaleChannels(_ scale: [Float], shift: [Float]) {
        let per = weight.count / outChannels
        weight.withUnsafeMutableBufferPointer { w in
            for o in 0..<outChannels {
                for k in 0..<per { w[o * per + k] *= scale[o] }
            }
        }
        var b = bias ?? [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels { b[o] = b[o] * scale[o] + shift[o] }
        bias = b
    }

    mutating func addBias(_ values: [Float]) {
        var b = bias ?? [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels { b[o] += values[o] }
        bias = b
    }
}
