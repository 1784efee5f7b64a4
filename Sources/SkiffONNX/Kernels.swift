internal import Foundation
internal import CSkiffKernels

/// The operators, each a function of input tensors. Shapes are checked here, so a model that
/// feeds an operator something it cannot take fails with the node's name instead of reading
/// out of bounds.
enum Kernels {
    static func shapeError(_ node: Node, _ reason: String) -> ONNXError {
        .shapeMismatch(op: node.opType, node: node.name, reason: reason)
    }

    static func evaluate(_ node: Node, _ inputs: [Tensor?], threads: Int) throws(ONNXError) -> [Tensor] {
        func input(_ k: Int) throws(ONNXError) -> Tensor {
            guard k < inputs.count, let t = inputs[k] else {
                throw .missingValue(name: k < node.inputs.count ? node.inputs[k] : "#\(k)", node: node.name)
            }
            return t
        }
        func optional(_ k: Int) -> Tensor? { k < inputs.count ? inputs[k] : nil }
        switch node.opType {
        case "Identity": return [try input(0)]
        case "Conv", "ConvTranspose":
            let conv = try makeConv(node, weight: try input(1), bias: optional(2))
            return [try Self.conv(conv, try input(0), node: node, threads: threads)]
        case "BatchNormalization": return [try batchNorm(node, try input(0), try input(1), try input(2), try input(3), try input(4))]
        case "Add":
            if let y = planeBinary(SKIFF_BIN_ADD, try input(0), try input(1), threads: threads) { return [y] }
            return [try binary(node, try input(0), try input(1), +, +)]
        case "Sub":
            if let y = planeBinary(SKIFF_BIN_SUB, try input(0), try input(1), threads: threads) { return [y] }
            return [try binary(node, try input(0), try input(1), -, -)]
        case "Mul":
            if let y = planeBinary(SKIFF_BIN_MUL, try input(0), try input(1), threads: threads) { return [y] }
            return [try binary(node, try input(0), try input(1), *, *)]
        case "Div":
            if let y = planeBinary(SKIFF_BIN_DIV, try input(0), try input(1), threads: threads) { return [y] }
            return [try binary(node, try input(0), try input(1), /) { a, b in b == 0 ? 0 : a / b }]
        case "Pow":
            let b = try input(1)
            if b.count == 1, b.floats[0] == 2 { return [unary(try input(0)) { $0 * $0 }] }
            return [try binary(node, try input(0), b, { powf($0, $1) }) { a, b in Int64(powf(Float(a), Float(b))) }]
        case "Sqrt": return [unary(try input(0)) { $0.squareRoot() }]
        case "Relu": return [unary(try input(0)) { max($0, 0) }]
        case "Sigmoid": return [unary(try input(0)) { 1 / (1 + expf(-$0)) }]
        case "HardSigmoid":
            let a = node.float("alpha", default: 0.2), b = node.float("beta", default: 0.5)
            return [unary(try input(0)) { min(max(a * $0 + b, 0), 1) }]
        case "HardSwish":
            return [unary(try input(0)) { $0 * min(max($0 / 6 + 0.5, 0), 1) }]
        case "GlobalAveragePool": return [try globalAveragePool(node, try input(0), threads: threads)]
        case "AveragePool": return [try averagePool(node, try input(0), threads: threads)]
        case "Resize": return [try resize(node, try input(0), optional(2), optional(3), threads: threads)]
        case "Concat": return [try concat(node, try (0..<inputs.count).map { k throws(ONNXError) in try input(k) })]
        case "Shape":
            let x = try input(0)
            return [Tensor(shape: [x.shape.count], int64s: x.shape.map { Int64($0) })]
        case "Slice": return [try slice(node, try input(0), try input(1), try input(2), optional(3), optional(4))]
        case "Squeeze": return [try squeeze(node, try input(0), optional(1))]
        case "Unsqueeze": return [try unsqueeze(node, try input(0), optional(1))]
        case "Reshape": return [try reshape(node, try input(0), try input(1))]
        case "Flatten":
            let x = try input(0)
            var axis = node.int("axis", default: 1)
            if axis < 0 { axis += x.shape.count }
            guard (0...x.shape.count).contains(axis) else { throw shapeError(node, "axis \(axis) out of range") }
            var t = x
            t.shape = [x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)]
            return [t]
        case "Transpose":
            let x = try input(0)
            let perm = node.ints("perm") ?? Array((0..<x.shape.count).reversed())
            return [try transpose(node, x, perm)]
        case "ReduceMean": return [try reduceMean(node, try input(0))]
        case "MatMul": return [try matmul(node, try input(0), try input(1), threads: threads)]
        case "Softmax": return [try softmax(node, try input(0), threads: threads)]
        default: throw .unsupportedOperator(op: node.opType, node: node.name)
        }
    }

    // MARK: element-wise

    static func unary(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
        var v = x.floats
        v.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = f(p[i]) } }
        return Tensor(shape: x.shape, floats: v)
    }

    static func broadcastShape(_ node: Node, _ a: [Int], _ b: [Int]) throws(ONNXError) -> [Int] {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a
        let pb = [Int](repeating: 1, count: rank - b.count) + b
        var out: [Int] = []
        for (x, y) in zip(pa, pb) {
            guard x == y || x == 1 || y == 1 else { throw shapeError(node, "cannot broadcast \(a) with \(b)") }
            out.append(x == 1 ? y : x)
        }
        return out
    }

    /// A shape like [1, C, 1, 1], [C, 1, 1] or [C]... that scales channel 1 of an NCHW tensor.
    static func isPerChannel(_ shape: [Int], channels: Int) -> Bool {
        let nonUnit = shape.enumerated().filter { $0.element != 1 }
        guard nonUnit.count == 1, nonUnit[0].element == channels else { return channels == 1 && shape.reduce(1, *) == 1 }
        // Aligned to the right of a rank-4 NCHW tensor, the channel axis is index 1.
        return 4 - shape.count + nonUnit[0].offset == 1
    }

    static func binary(_ node: Node, _ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float,
                       _ g: (Int64, Int64) -> Int64) throws(ONNXError) -> Tensor {
        let shape = try broadcastShape(node, a.shape, b.shape)
        if case let .int64(x) = a.storage, case let .int64(y) = b.storage {
            return Tensor(shape: shape, int64s: broadcast(shape, a.shape, x, b.shape, y, g))
        }
        return Tensor(shape: shape, floats: broadcast(shape, a.shape, a.floats, b.shape, b.floats, f))
    }

    /// The two float cases that carry the networks' element-wise work, in threaded C loops: two
    /// tensors of one shape, and an [N, C, ...] tensor with one value per (n, c) plane (the
    /// squeeze-excite scale, [N, C, 1, 1]) on either side. Other shapes: nil.
    static func planeBinary(_ op: skiff_binary_op, _ a: Tensor, _ b: Tensor, threads: Int) -> Tensor? {
        guard case let .float(av) = a.storage, case let .float(bv) = b.storage, a.count >= 4096 || b.count >= 4096 else { return nil }
        if a.shape == b.shape {
            let y = [Float](unsafeUninitializedCapacity: a.count) { o, n in
                skiff_binary_same(Int32(op.rawValue), av, bv, o.baseAddress, Int64(a.count), Int32(threads))
                n = a.count
            }
            return Tensor(shape: a.shape, floats: y)
        }
        func perPlane(_ full: Tensor, _ small: Tensor) -> Bool {
            let r = full.shape.count
            guard r >= 3, small.shape.count <= r else { return false }
            let ps = [Int](repeating: 1, count: r - small.shape.count) + small.shape
            return ps[0] == full.shape[0] && ps[1] == full.shape[1] && ps[2...].allSatisfy { $0 == 1 }
        }
        let scalarFirst: Bool
        let (full, fv, sv): (Tensor, [Float], [Float])
        if perPlane(a, b) { (full, fv, sv, scalarFirst) = (a, av, bv, false) }
        else if perPlane(b, a) { (full, fv, sv, scalarFirst) = (b, bv, av, true) }
        else { return nil }
        let planes = full.shape[0] * full.shape[1], plane = full.count / max(planes, 1)
        let y = [Float](unsafeUninitializedCapacity: full.count) { o, n in
            skiff_binary_planes(Int32(op.rawValue), fv, sv, o.baseAddress, Int64(planes), Int64(plane), scalarFirst ? 1 : 0,
                                Int32(threads))
            n = full.count
        }
        return Tensor(shape: full.shape, floats: y)
    }

    /// Numpy broadcasting; adjacent axes with the same broadcast pattern are merged so the inner
    /// loop runs over as many contiguous values as possible.
    static func broadcast<T>(_ shape: [Int], _ sa: [Int], _ a: [T], _ sb: [Int], _ b: [T],
                             _ f: (T, T) -> T) -> [T] {
        let count = shape.reduce(1, *)
        if sa == sb {
            return [T](unsafeUninitializedCapacity: count) { out, n in
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
                    for i in 0..<count { out[i] = f(pa[i], pb[i]) }
                } }
                n = count
            }
        }
        if b.count == 1 {
            let s = b[0]
            return [T](unsafeUninitializedCapacity: count) { out, n in
                a.withUnsafeBufferPointer { pa in for i in 0..<count { out[i] = f(pa[i], s) } }
                n = count
            }
        }
        if a.count == 1 {
            let s = a[0]
            return [T](unsafeUninitializedCapacity: count) { out, n in
                b.withUnsafeBufferPointer { pb in for i in 0..<count { out[i] = f(s, pb[i]) } }
                n = count
            }
        }
        let rank = shape.count
        let pa = [Int](repeating: 1, count: rank - sa.count) + sa
        let pb = [Int](repeating: 1, count: rank - sb.count) + sb
        // merged dims: (size, aFull, bFull)
        var dims: [(size: Int, a: Bool, b: Bool)] = []
        for k in 0..<rank where shape[k] != 1 {
            let fa = pa[k] != 1, fb = pb[k] != 1
            if let last = dims.last, last.a == fa, last.b == fb {
                dims[dims.count - 1].size *= shape[k]
            } else {
                dims.append((shape[k], fa, fb))
            }
        }
        if dims.isEmpty { dims = [(1, true, true)] }
        var strideA = [Int](repeating: 0, count: dims.count), strideB = strideA
        var accA = 1, accB = 1
        for k in stride(from: dims.count - 1, through: 0, by: -1) {
            if dims[k].a { strideA[k] = accA; accA *= dims[k].size }
            if dims[k].b { strideB[k] = accB; accB *= dims[k].size }
        }
        let inner = dims[dims.count - 1].size
        let ia = strideA[dims.count - 1], ib = strideB[dims.count - 1]
        let outer = count / max(inner, 1)
        return [T](unsafeUninitializedCapacity: count) { out, n in
            a.withUnsafeBufferPointer { xa in b.withUnsafeBufferPointer { xb in
                var index = [Int](repeating: 0, count: dims.count)
                for o in 0..<outer {
                    var offA = 0, offB = 0
                    for k in 0..<(dims.count - 1) { offA += index[k] * strideA[k]; offB += index[k] * strideB[k] }
                    let base = o * inner
                    if ia == 1 && ib == 1 {
                        for i in 0..<inner { out[base + i] = f(xa[offA + i], xb[offB + i]) }
                    } else if ia == 1 {
                        let s = xb[offB]
                        for i in 0..<inner { out[base + i] = f(xa[offA + i], s) }
                    } else {
                        let s = xa[offA]
                        for i in 0..<inner { out[base + i] = f(s, xb[offB + i]) }
                    }
                    var k = dims.count - 2
                    while k >= 0 {
                        index[k] += 1
                        if index[k] < dims[k].size { break }
                        index[k] = 0
                        k -= 1
                    }
                }
            } }
            n = count
        }
    }

    // MARK: convolution

    static func makeConv(_ node: Node, weight: Tensor, bias: Tensor?) throws(ONNXError) -> FusedConv {
        let transposed = node.opType == "ConvTranspose"
        guard weight.shape.count == 4, weight.isFloat else {
            throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "only 2-D convolutions with float weights are supported (weight shape \(weight.shape))")
        }
        if node.string("auto_pad", default: "NOTSET") != "NOTSET" {
            throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "auto_pad is not supported; pads must be explicit")
        }
        let kernel = node.ints("kernel_shape") ?? [weight.shape[2], weight.shape[3]]
        guard kernel == [weight.shape[2], weight.shape[3]] else {
            throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "kernel_shape \(kernel) does not match the weight \(weight.shape)")
        }
        let strides = node.ints("strides") ?? [1, 1]
        let pads = node.ints("pads") ?? [0, 0, 0, 0]
        let dilations = node.ints("dilations") ?? [1, 1]
        let groups = node.int("group", default: 1)
        guard strides.count == 2, pads.count == 4, dilations.count == 2, groups >= 1,
              strides.allSatisfy({ $0 >= 1 }), dilations.allSatisfy({ $0 >= 1 }), pads.allSatisfy({ $0 >= 0 }) else {
            throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "strides \(strides), pads \(pads), dilations \(dilations), group \(groups)")
        }
        var w = weight.floats
        let outChannels: Int
        if transposed {
            guard groups == 1, strides == kernel, pads == [0, 0, 0, 0], dilations == [1, 1],
                  node.ints("output_padding").map({ $0.allSatisfy { $0 == 0 } }) ?? true,
                  node.ints("output_shape") == nil else {
                throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "only ConvTranspose with kernel == stride, no padding and one group is supported")
            }
            // [c, oc, kh, kw] -> [oc * kh * kw, c]
            let c = weight.shape[0], oc = weight.shape[1], kk = kernel[0] * kernel[1]
            var t = [Float](repeating: 0, count: w.count)
            for ci in 0..<c { for o in 0..<oc { for k in 0..<kk { t[(o * kk + k) * c + ci] = w[(ci * oc + o) * kk + k] } } }
            w = t
            outChannels = oc
        } else {
            outChannels = weight.shape[0]
            guard outChannels % groups == 0 else {
                throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "\(outChannels) output channels in \(groups) groups")
            }
        }
        if let bias, bias.count != outChannels {
            throw shapeError(node, "bias of \(bias.count) values for \(outChannels) output channels")
        }
        return FusedConv(weight: w, bias: bias?.floats, outChannels: outChannels, kernel: (kernel[0], kernel[1]),
                         strides: (strides[0], strides[1]), pads: (pads[0], pads[1], pads[2], pads[3]),
                         dilations: (dilations[0], dilations[1]), groups: groups, transposed: transposed)
    }

    static func conv(_ conv: FusedConv, _ x: Tensor, node: Node, threads: Int) throws(ONNXError) -> Tensor {
        guard x.shape.count == 4, case let .float(xv) = x.storage else {
            throw shapeError(node, "input must be a float [N, C, H, W] tensor, got \(x.shape)")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let kk = conv.kernel.h * conv.kernel.w
        if conv.transposed {
            guard conv.weight.count == conv.outChannels * kk * c else {
                throw shapeError(node, "input has \(c) channels, the weight expects \(conv.weight.count / (conv.outChannels * kk))")
            }
            let oh = h * conv.kernel.h, ow = w * conv.kernel.w
            // Fully written by the product; uninitialised, so no page is zeroed first.
            let scratchCount = Int(skiff_conv_transpose_scratch_floats(Int64(conv.outChannels), Int64(h), Int64(w),
                                                                       Int64(conv.kernel.h), Int64(conv.kernel.w), Int32(threads)))
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchCount, 1))
            defer { scratch.deallocate() }
            let y = [Float](unsafeUninitializedCapacity: n * conv.outChannels * oh * ow) { out, count in
                conv.weight.withUnsafeBufferPointer { wp in
                    withOptional(conv.bias) { bp in
                        skiff_conv_transpose_blocks(xv, Int64(n), Int64(c), Int64(h), Int64(w), wp.baseAddress, bp,
                                                    Int64(conv.outChannels), Int64(conv.kernel.h), Int64(conv.kernel.w),
                                                    conv.epilogue, out.baseAddress, scratch, Int32(threads))
                    }
                }
                count = n * conv.outChannels * oh * ow
            }
            return Tensor(shape: [n, conv.outChannels, oh, ow], floats: y)
        }
        guard c % conv.groups == 0, conv.weight.count == conv.outChannels * (c / conv.groups) * kk else {
            throw shapeError(node, "input has \(c) channels, the weight \(conv.outChannels)x\(conv.weight.count / conv.outChannels / kk)x\(conv.kernel.h)x\(conv.kernel.w) in \(conv.groups) groups does not fit")
        }
        let (sh, sw) = conv.strides, (dh, dw) = conv.dilations, p = conv.pads
        let oh = (h + p.t + p.b - dh * (conv.kernel.h - 1) - 1) / sh + 1
        let ow = (w + p.l + p.r - dw * (conv.kernel.w - 1) - 1) / sw + 1
        guard oh > 0, ow > 0 else { throw shapeError(node, "input \(x.shape) is smaller than the kernel") }
        let scratchCount = Int(skiff_conv2d_scratch_floats(Int64(c), Int64(h), Int64(w), Int64(conv.outChannels),
                                                           Int64(conv.kernel.h), Int64(conv.kernel.w), Int64(sh), Int64(sw),
                                                           Int64(p.t), Int64(p.l), Int64(p.b), Int64(p.r), Int64(dh), Int64(dw),
                                                           Int64(conv.groups), Int32(threads)))
        // im2col writes every value (padding included), so the buffer is not zeroed first.
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchCount, 1))
        defer { scratch.deallocate() }
        let total = n * conv.outChannels * oh * ow
        let y = [Float](unsafeUninitializedCapacity: total) { out, count in
            conv.weight.withUnsafeBufferPointer { wp in
                withOptional(conv.bias) { bp in
                    withOptional(conv.bfloat16Weight) { bf in
                        skiff_conv2d(xv, Int64(n), Int64(c), Int64(h), Int64(w), wp.baseAddress, bp, Int64(conv.outChannels),
                                     Int64(conv.kernel.h), Int64(conv.kernel.w), Int64(sh), Int64(sw), Int64(p.t), Int64(p.l),
                                     Int64(p.b), Int64(p.r), Int64(dh), Int64(dw), Int64(conv.groups), conv.epilogue,
                                     bf, out.baseAddress, scratch, Int32(threads))
                    }
                }
            }
            count = total
        }
        return Tensor(shape: [n, conv.outChannels, oh, ow], floats: y)
    }

    static func withOptional<T, R>(_ values: [T]?, _ body: (UnsafePointer<T>?) -> R) -> R {
        guard let values else { return body(nil) }
        return values.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    static func batchNorm(_ node: Node, _ x: Tensor, _ s: Tensor, _ b: Tensor, _ m: Tensor, _ v: Tensor) throws(ONNXError) -> Tensor {
        guard x.shape.count >= 2 else { throw shapeError(node, "input \(x.shape) has no channel axis") }
        let c = x.shape[1]
        guard s.count == c, b.count == c, m.count == c, v.count == c else {
            throw shapeError(node, "parameters do not have \(c) values")
        }
        let eps = node.float("epsilon", default: 1e-5)
        let sf = s.floats, bf = b.floats, mf = m.floats, vf = v.floats
        let plane = x.shape[2...].reduce(1, *)
        var y = x.floats
        y.withUnsafeMutableBufferPointer { p in
            for q in 0..<(x.count / max(plane * c, 1) * c) {
                let ch = q % c
                let scale = sf[ch] / (vf[ch] + eps).squareRoot(), shift = bf[ch] - mf[ch] * scale
                for i in 0..<plane { p[q * plane + i] = p[q * plane + i] * scale + shift }
            }
        }
        return Tensor(shape: x.shape, floats: y)
    }

    // MARK: pooling and resizing

    static func globalAveragePool(_ node: Node, _ x: Tensor, threads: Int) throws(ONNXError) -> Tensor {
        guard x.shape.count >= 3 else { throw shapeError(node, "input \(x.shape) has no spatial axes") }
        let planes = x.shape[0] * x.shape[1], plane = x.shape[2...].reduce(1, *)
        let v = x.floats
        let out = [Float](unsafeUninitializedCapacity: planes) { o, n in
            skiff_global_average_pool(v, o.baseAddress, Int64(planes), Int64(plane), Int32(threads))
            n = planes
        }
        return Tensor(shape: [x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.shape.count - 2), floats: out)
    }

    static func averagePool(_ node: Node, _ x: Tensor, threads: Int) throws(ONNXError) -> Tensor {
        guard x.shape.count == 4 else { throw shapeError(node, "only 2-D pooling is supported, got \(x.shape)") }
        guard let k = node.ints("kernel_shape"), k.count == 2 else {
            throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "kernel_shape must have two values")
        }
        let s = node.ints("strides") ?? [1, 1]
        let pads = node.ints("pads") ?? [0, 0, 0, 0]
        guard node.int("ceil_mode", default: 0) == 0, node.string("auto_pad", default: "NOTSET") == "NOTSET",
              s.count == 2, pads.count == 4 else {
            throw .unsupportedAttribute(op: node.opType, node: node.name, reason: "ceil_mode and auto_pad are not supported")
        }
        let includePad = node.int("count_include_pad", default: 0) != 0
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let oh = (h + pads[0] + pads[2] - k[0]) / s[0] + 1, ow = (w + pads[1] + pads[3] - k[1]) / s[1] + 1
        guard oh > 0, ow > 0 else { throw shapeError(node, "input \(x.shape) is smaller than the kernel") }
        let v = x.floats
        let out = [Float](unsafeUninitializedCapacity: n * c * oh * ow) { o, count in
            skiff_average_pool(v, o.baseAddress, Int64(n * c), Int64(h), Int64(w), Int64(oh), Int64(ow), Int64(k[0]), Int64(k[1]),
                               Int64(s[0]), Int64(s[1]), Int64(pads[0]), Int64(pads[1]), includePad ? 1 : 0, Int32(threads))
            count = n * c * oh * ow
        }
        return Tensor(shape: [n, c, oh, ow], floats: out)
    }

    static func resize(_ node: Node, _ x: Tensor, _ scales: Tensor?, _ sizes: Tensor?, threads: Int) throws(ONNXError) -> Tensor {
        let mode = node.string("mode", default: "nearest")
        let transform = node.string("coordinate_transformation_mode", default: "half_pixel")
        let nearest = node.string("nearest_mode", default: "round_prefer_floor")
        guard mode == "nearest", transform == "asymmetric", nearest == "floor" else {
            throw .unsupportedAttribute(op: "Resize", node: node.name, reason: "only nearest / asymmetric / floor is supported (got \(mode) / \(transform) / \(nearest))")
        }
        guard x.shape.count == 4 else { throw shapeError(node, "only 4-D inputs are supported, got \(x.shape)") }
        var outShape = x.shape
        var factor: [Float] = [1, 1, 1, 1]
        if let sizes, sizes.count == 4 {
            outShape = sizes.int64s.map { Int($0) }
            for k in 0..<4 { factor[k] = Float(outShape[k]) / Float(max(x.shape[k], 1)) }
        } else if let scales, scales.count == 4 {
            factor = scales.floats
            for k in 0..<4 { outShape[k] = Int((Float(x.shape[k]) * factor[k]).rounded(.down)) }
        } else {
            throw shapeError(node, "needs 4 scales or 4 sizes")
        }
        guard outShape[0] == x.shape[0], outShape[1] == x.shape[1] else {
            throw .unsupportedAttribute(op: "Resize", node: node.name, reason: "resizing the batch or channel axis is not supported")
        }
        let (h, w, oh, ow) = (x.shape[2], x.shape[3], outShape[2], outShape[3])
        let v = x.floats
        let xs = (0..<ow).map { Int64(min(Int((Float($0) / factor[3]).rounded(.down)), w - 1)) }
        let ys = (0..<oh).map { Int64(min(Int((Float($0) / factor[2]).rounded(.down)), h - 1)) }
        let planes = x.shape[0] * x.shape[1]
        let out = [Float](unsafeUninitializedCapacity: planes * oh * ow) { o, count in
            skiff_resize_nearest(v, o.baseAddress, Int64(planes), Int64(h), Int64(w), Int64(oh), Int64(ow), xs, ys, Int32(threads))
            count = planes * oh * ow
        }
        return Tensor(shape: outShape, floats: out)
    }

    // MARK: shapes

    static func axis(_ node: Node, _ a: Int, rank: Int) throws(ONNXError) -> Int {
        let r = a < 0 ? a + rank : a
        guard r >= 0, r < rank else { throw shapeError(node, "axis \(a) out of range for rank \(rank)") }
        return r
    }

    static func concat(_ node: Node, _ xs: [Tensor]) throws(ONNXError) -> Tensor {
        guard let first = xs.first else { throw shapeError(node, "no inputs") }
        let rank = first.shape.count
        let ax = try axis(node, node.int("axis", default: 0), rank: rank)
        for x in xs {
            guard x.shape.count == rank, zip(x.shape, first.shape).enumerated().allSatisfy({ $0.offset == ax || $0.element.0 == $0.element.1 }) else {
                throw shapeError(node, "cannot concatenate \(first.shape) with \(x.shape) on axis \(ax)")
            }
        }
        var shape = first.shape
        shape[ax] = xs.reduce(0) { $0 + $1.shape[ax] }
        let outer = first.shape[..<ax].reduce(1, *)
        func join<T>(_ parts: [[T]]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(shape.reduce(1, *))
            let inners = xs.map { $0.shape[ax...].reduce(1, *) }
            for o in 0..<outer {
                for (p, inner) in zip(parts, inners) { out.append(contentsOf: p[(o * inner)..<((o + 1) * inner)]) }
            }
            return out
        }
        if xs.allSatisfy({ !$0.isFloat }) { return Tensor(shape: shape, int64s: join(xs.map(\.int64s))) }
        return Tensor(shape: shape, floats: join(xs.map(\.floats)))
    }

    static func reshape(_ node: Node, _ x: Tensor, _ target: Tensor) throws(ONNXError) -> Tensor {
        var shape = target.int64s.map { Int($0) }
        let allowZero = node.int("allowzero", default: 0) != 0
        for k in shape.indices where shape[k] == 0 && !allowZero {
            guard k < x.shape.count else { throw shapeError(node, "0 at axis \(k) of \(shape) but the input has rank \(x.shape.count)") }
            shape[k] = x.shape[k]
        }
        let unknown = shape.indices.filter { shape[$0] == -1 }
        guard unknown.count <= 1, shape.allSatisfy({ $0 >= -1 }) else { throw shapeError(node, "invalid target shape \(shape)") }
        if let k = unknown.first {
            let known = shape.enumerated().filter { $0.offset != k }.map(\.element).reduce(1, *)
            guard known > 0, x.count % known == 0 else { throw shapeError(node, "cannot reshape \(x.shape) to \(shape)") }
            shape[k] = x.count / known
        }
        guard shape.reduce(1, *) == x.count else { throw shapeError(node, "cannot reshape \(x.shape) (\(x.count) values) to \(shape)") }
        var t = x
        t.shape = shape
        return t
    }

    static func squeeze(_ node: Node, _ x: Tensor, _ axesInput: Tensor?) throws(ONNXError) -> Tensor {
        let rank = x.shape.count
        var axes: Set<Int>
        if let a = node.ints("axes") ?? axesInput.map({ $0.int64s.map { Int($0) } }) {
            axes = []
            for v in a { axes.insert(try axis(node, v, rank: rank)) }
            for k in axes where x.shape[k] != 1 { throw shapeError(node, "axis \(k) of \(x.shape) is not 1") }
        } else {
            axes = Set(x.shape.indices.filter { x.shape[$0] == 1 })
        }
        var t = x
        t.shape = x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
        return t
    }

    static func unsqueeze(_ node: Node, _ x: Tensor, _ axesInput: Tensor?) throws(ONNXError) -> Tensor {
        guard let a = node.ints("axes") ?? axesInput.map({ $0.int64s.map { Int($0) } }) else {
            throw shapeError(node, "no axes")
        }
        let rank = x.shape.count + a.count
        var axes: [Int] = []
        for v in a { axes.append(try axis(node, v, rank: rank)) }
        var shape: [Int] = []
        var it = x.shape.makeIterator()
        for k in 0..<rank { shape.append(axes.contains(k) ? 1 : (it.next() ?? 1)) }
        var t = x
        t.shape = shape
        return t
    }

    static func slice(_ node: Node, _ x: Tensor, _ starts: Tensor, _ ends: Tensor, _ axesT: Tensor?,
                      _ stepsT: Tensor?) throws(ONNXError) -> Tensor {
        let rank = x.shape.count
        let s = starts.int64s, e = ends.int64s
        let axes = axesT?.int64s.map { Int($0) } ?? Array(0..<s.count)
        let steps = stepsT?.int64s ?? [Int64](repeating: 1, count: s.count)
        guard s.count == e.count, axes.count == s.count, steps.count == s.count else {
            throw shapeError(node, "starts, ends, axes and steps differ in length")
        }
        var begin = [Int](repeating: 0, count: rank), step = [Int](repeating: 1, count: rank)
        var shape = x.shape
        for k in 0..<s.count {
            let a = try axis(node, axes[k], rank: rank)
            let dim = Int64(x.shape[a])
            let st = steps[k]
            guard st != 0 else { throw shapeError(node, "step 0") }
            var b = s[k] < 0 ? s[k] + dim : s[k]
            var en = e[k] < 0 ? e[k] + dim : e[k]
            if st > 0 {
                b = min(max(b, 0), dim)
                en = min(max(en, 0), dim)
                shape[a] = Int(max(0, (en - b + st - 1) / st))
            } else {
                b = min(max(b, -1), dim - 1)
                en = min(max(en, -1), dim - 1)
                shape[a] = Int(max(0, (b - en + (-st) - 1) / (-st)))
            }
            begin[a] = Int(b)
            step[a] = Int(st)
        }
        return gather(x, shape: shape) { k, i in begin[k] + i * step[k] }
    }

    /// out[i0, i1, ...] = x[map(0, i0), map(1, i1), ...].
    static func gather(_ x: Tensor, shape: [Int], _ map: (Int, Int) -> Int) -> Tensor {
        let strides = elementStrides(x.shape)
        return gather(x, shape: shape, offsets: (0..<shape.count).map { k in (0..<shape[k]).map { map(k, $0) * strides[k] } })
    }

    /// Row-major strides of `shape`, in elements.
    static func elementStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for k in stride(from: shape.count - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * shape[k + 1] }
        return strides
    }

    /// out[i0, i1, ...] = x's element at offsets[0][i0] + offsets[1][i1] + ...
    static func gather(_ x: Tensor, shape: [Int], offsets: [[Int]]) -> Tensor {
        let rank = shape.count
        let count = shape.reduce(1, *)
        func run<T>(_ v: [T]) -> [T] {
            guard count > 0 else { return [] }
            var out: [T] = []
            out.reserveCapacity(count)
            var index = [Int](repeating: 0, count: rank)
            for _ in 0..<count {
                var off = 0
                for k in 0..<rank { off += offsets[k][index[k]] }
                out.append(v[off])
                var k = rank - 1
                while k >= 0 {
                    index[k] += 1
                    if index[k] < shape[k] { break }
                    index[k] = 0
                    k -= 1
                }
            }
            return out
        }
        switch x.storage {
        case let .float(v): return Tensor(shape: shape, floats: rank == 0 ? v : run(v))
        case let .int64(v): return Tensor(shape: shape, int64s: rank == 0 ? v : run(v))
        }
    }

    static func transpose(_ node: Node, _ x: Tensor, _ perm: [Int]) throws(ONNXError) -> Tensor {
        let rank = x.shape.count
        guard perm.count == rank, Set(perm) == Set(0..<rank) else { throw shapeError(node, "perm \(perm) for rank \(rank)") }
        let shape = perm.map { x.shape[$0] }
        let strides = elementStrides(x.shape)
        // Fast path: the innermost axis stays innermost, copy runs of it.
        let count = x.count
        if rank >= 2, perm[rank - 1] == rank - 1, case let .float(v) = x.storage {
            let inner = x.shape[rank - 1]
            let outerShape = Array(shape.dropLast())
            let outerCount = count / max(inner, 1)
            let out = [Float](unsafeUninitializedCapacity: count) { o, n in
                v.withUnsafeBufferPointer { p in
                    var index = [Int](repeating: 0, count: rank - 1)
                    for r in 0..<outerCount {
                        var off = 0
                        for k in 0..<(rank - 1) { off += index[k] * strides[perm[k]] }
                        for i in 0..<inner { o[r * inner + i] = p[off + i] }
                        var k = rank - 2
                        while k >= 0 {
                            index[k] += 1
                            if index[k] < outerShape[k] { break }
                            index[k] = 0
                            k -= 1
                        }
                    }
                }
                n = count
            }
            return Tensor(shape: shape, floats: out)
        }
        // General case (the innermost axis moves): one value at a time.
        return gather(x, shape: shape, offsets: (0..<rank).map { k in (0..<shape[k]).map { $0 * strides[perm[k]] } })
    }

    static func reduceMean(_ node: Node, _ x: Tensor) throws(ONNXError) -> Tensor {
        let rank = x.shape.count
        var axes: [Int] = []
        for a in node.ints("axes") ?? Array(0..<rank) { axes.append(try axis(node, a, rank: rank)) }
        axes.sort()
        let keep = node.int("keepdims", default: 1) != 0
        // Move the reduced axes last, then average rows.
        let rest = (0..<rank).filter { !axes.contains($0) }
        let moved = rest + axes == Array(0..<rank) ? x : try transpose(node, x, rest + axes)
        let n = axes.map { x.shape[$0] }.reduce(1, *)
        let rows = x.count / max(n, 1)
        let v = moved.floats
        var out = [Float](repeating: 0, count: rows)
        v.withUnsafeBufferPointer { p in
            for r in 0..<rows {
                var s: Float = 0
                for i in 0..<n { s += p[r * n + i] }
                out[r] = s / Float(n)
            }
        }
        let shape = keep ? x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element } : rest.map { x.shape[$0] }
        return Tensor(shape: shape, floats: out)
    }

    // MARK: products

    static func matmul(_ node: Node, _ a: Tensor, _ b: Tensor, threads: Int) throws(ONNXError) -> Tensor {
        guard a.shape.count >= 2, b.shape.count >= 2 else {
            throw .unsupportedAttribute(op: "MatMul", node: node.name, reason: "1-D operands are not supported (\(a.shape) x \(b.shape))")
        }
        let m = a.shape[a.shape.count - 2], k = a.shape[a.shape.count - 1]
        let k2 = b.shape[b.shape.count - 2], n = b.shape[b.shape.count - 1]
        guard k == k2 else { throw shapeError(node, "cannot multiply \(a.shape) by \(b.shape)") }
        let av = a.floats, bv = b.floats
        // One product per matrix of a batch, a 2-D weight included ([n, m, k] x [k, n'] as n
        // products of m rows, not one of n * m rows): OpenBLAS picks its kernel by size, and its
        // small-matrix kernel rounds differently, so this keeps an item's values the same in any
        // batch (a recognition line run alone or with five others).
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = try broadcastShape(node, batchA, batchB)
        let countA = batchA.reduce(1, *), countB = batchB.reduce(1, *), total = batch.reduce(1, *)
        guard (countA == total || countA == 1), (countB == total || countB == 1),
              countA == 1 || [Int](repeating: 1, count: batch.count - batchA.count) + batchA == batch,
              countB == 1 || [Int](repeating: 1, count: batch.count - batchB.count) + batchB == batch else {
            throw .unsupportedAttribute(op: "MatMul", node: node.name, reason: "partial batch broadcasting \(a.shape) x \(b.shape)")
        }
        let out = [Float](unsafeUninitializedCapacity: total * m * n) { o, count in
            av.withUnsafeBufferPointer { pa in bv.withUnsafeBufferPointer { pb in
                for t in 0..<total {
                    let ia = countA == 1 ? 0 : t, ib = countB == 1 ? 0 : t
                    skiff_sgemm_nn(Int64(m), Int64(n), Int64(k), 1, pa.baseAddress! + ia * m * k, Int64(k),
                                   pb.baseAddress! + ib * k * n, Int64(n), 0, o.baseAddress! + t * m * n, Int64(n))
                }
            } }
            count = total * m * n
        }
        return Tensor(shape: batch + [m, n], floats: out)
    }

    static func softmax(_ node: Node, _ x: Tensor, threads: Int) throws(ONNXError) -> Tensor {
        let rank = x.shape.count
        let ax = try axis(node, node.int("axis", default: -1), rank: rank)
        guard ax == rank - 1 else {
            throw .unsupportedAttribute(op: "Softmax", node: node.name, reason: "only the last axis is supported (axis \(ax) of rank \(rank))")
        }
        let n = x.shape[rank - 1]
        var v = x.floats
        v.withUnsafeMutableBufferPointer { p in skiff_onnx_softmax(p.baseAddress, Int64(x.count / max(n, 1)), Int64(n), Int32(threads)) }
        return Tensor(shape: x.shape, floats: v)
    }

    static func layerNorm(_ x: Tensor, gamma: [Float]?, beta: [Float]?, epsilon: Float) -> Tensor {
        let n = x.shape.last ?? 1
        let v = x.floats
        let out = [Float](unsafeUninitializedCapacity: v.count) { o, count in
            withOptional(gamma) { g in withOptional(beta) { b in
                skiff_onnx_layernorm(v, o.baseAddress, Int64(v.count / max(n, 1)), Int64(n), g, b, epsilon)
            } }
            count = v.count
        }
        return Tensor(shape: x.shape, floats: out)
    }
}
