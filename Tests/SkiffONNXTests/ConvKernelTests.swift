import Foundation
import Testing
internal import CSkiffKernels
@testable import SkiffONNX

/// The convolution kernels (chunked im2col + products, 1x1 products, register-blocked AVX2
/// depthwise loops with the epilogue applied in place) against a direct loop in double.
@Suite("Convolution kernels")
struct ConvKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        var n, c, h, w, oc, k: Int
        var stride: (Int, Int) = (1, 1)
        var pad: Int
        var groups: Int = 1
        /// skiff_act: 0 none, 1 ReLU, 2 HardSwish
        var act: Int32 = 0
        var description: String { "n\(n) c\(c) \(h)x\(w) oc\(oc) k\(k) s\(stride) p\(pad) g\(groups) act\(act)" }
    }

    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { Float(($0 * 7919 + seed * 104_729) % 2001) / 1000 - 1 }
    }

    static func reference(_ conv: FusedConv, _ x: [Float], n: Int, c: Int, h: Int, w: Int) -> [Float] {
        let (kh, kw) = conv.kernel, (sh, sw) = conv.strides, p = conv.pads
        let oh = (h + p.t + p.b - kh) / sh + 1, ow = (w + p.l + p.r - kw) / sw + 1
        let cg = c / conv.groups, og = conv.outChannels / conv.groups
        var y = [Float](repeating: 0, count: n * conv.outChannels * oh * ow)
        for b in 0..<n { for o in 0..<conv.outChannels { for oy in 0..<oh { for ox in 0..<ow {
            var s = Double(conv.bias?[o] ?? 0)
            let g = o / og
            for ci in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * sh - p.t + ky, ix = ox * sw - p.l + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                s += Double(conv.weight[((o * cg + ci) * kh + ky) * kw + kx]) * Double(x[((b * c + g * cg + ci) * h + iy) * w + ix])
            } } }
            var v = Float(s)
            switch conv.activation {
            case 1: v = max(v, 0)
            case 2: v = v * min(max(conv.alpha * v + conv.beta, 0), 1)
            default: break
            }
            y[((b * conv.outChannels + o) * oh + oy) * ow + ox] = conv.postScale * v + conv.postShift
        } } } }
        return y
    }

    static let cases: [Case] = [
        Case(n: 2, c: 7, h: 9, w: 37, oc: 7, k: 3, pad: 1, groups: 7, act: 2),
        Case(n: 1, c: 5, h: 12, w: 53, oc: 5, k: 5, pad: 2, groups: 5, act: 2),
        Case(n: 3, c: 4, h: 12, w: 21, oc: 4, k: 5, stride: (2, 1), pad: 2, groups: 4, act: 1),
        Case(n: 1, c: 4, h: 11, w: 6, oc: 4, k: 5, pad: 2, groups: 4),
        Case(n: 1, c: 3, h: 10, w: 19, oc: 3, k: 3, stride: (2, 2), pad: 1, groups: 3, act: 2),
        Case(n: 2, c: 5, h: 6, w: 83, oc: 5, k: 3, stride: (1, 2), pad: 1, groups: 5, act: 2),  // vector rows
        Case(n: 1, c: 4, h: 13, w: 70, oc: 4, k: 5, stride: (2, 2), pad: 2, groups: 4, act: 2),
        Case(n: 1, c: 3, h: 5, w: 4, oc: 3, k: 5, stride: (2, 2), pad: 2, groups: 3),  // narrower than a vector
        Case(n: 1, c: 96, h: 40, w: 33, oc: 24, k: 3, pad: 1),  // several im2col chunks
        Case(n: 3, c: 6, h: 7, w: 9, oc: 5, k: 3, stride: (2, 2), pad: 1, act: 1),
        Case(n: 3, c: 40, h: 6, w: 45, oc: 48, k: 1, pad: 0, act: 2),
        Case(n: 1, c: 16, h: 100, w: 120, oc: 32, k: 1, pad: 0),  // 1x1 split into column chunks
    ]

    @Test(arguments: cases, [1, 2])
    func convolutionMatchesADirectLoop(_ t: Case, threads: Int) throws {
        var conv = FusedConv(weight: Self.values(t.oc * (t.c / t.groups) * t.k * t.k, seed: 1),
                             bias: Self.values(t.oc, seed: 2), outChannels: t.oc, kernel: (t.k, t.k),
                             strides: t.stride, pads: (t.pad, t.pad, t.pad, t.pad), dilations: (1, 1), groups: t.groups,
                             transposed: false)
        conv.activation = t.act
        conv.alpha = 1.0 / 6
        conv.beta = 0.5
        conv.postScale = 0.75
        conv.postShift = 0.125
        let x = Self.values(t.n * t.c * t.h * t.w, seed: 3)
        let node = Node(name: "conv", opType: "Conv", domain: "", inputs: ["x", "w"], outputs: ["y"], attributes: [:])
        let y = try Kernels.conv(conv, Tensor(shape: [t.n, t.c, t.h, t.w], floats: x), node: node, threads: threads)
        let expected = Self.reference(conv, x, n: t.n, c: t.c, h: t.h, w: t.w)
        #expect(y.count == expected.count, "\(t)")
        let diff = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(diff < 1e-4, "\(t): max difference \(diff)")
    }

    /// Round to nearest even bfloat16, kept as a Float (what vcvtneps2bf16 gives).
    static func bfloat16(_ v: Float) -> Float {
        var u = v.bitPattern
        u = u &+ 0x7fff &+ ((u >> 16) & 1)
        return Float(bitPattern: u & 0xffff_0000)
    }

    static let bfloat16Cases: [Case] = [
        Case(n: 1, c: 96, h: 40, w: 33, oc: 24, k: 3, pad: 1),  // im2col chunks
        Case(n: 3, c: 6, h: 7, w: 9, oc: 5, k: 3, stride: (2, 2), pad: 1, act: 1),  // a partial row panel
        Case(n: 2, c: 3, h: 9, w: 11, oc: 13, k: 3, pad: 1, act: 2),  // odd depth (27)
        Case(n: 3, c: 40, h: 6, w: 45, oc: 48, k: 1, pad: 0, act: 2),
        Case(n: 1, c: 240, h: 12, w: 50, oc: 20, k: 1, pad: 0, act: 2),  // column tails of 600 % 48
        Case(n: 1, c: 16, h: 100, w: 120, oc: 32, k: 1, pad: 0),  // column chunks
    ]

    /// With a packed weight the product rounds both operands to bfloat16 and sums in fp32, so
    /// it must equal a direct loop over the rounded operands (summed in double) to fp32 rounding;
    /// without AVX512-BF16 the packed weight is ignored and the fp32 result comes back.
    @Test(arguments: bfloat16Cases, [1, 2])
    func bfloat16ProductsMatchADirectLoopOnRoundedOperands(_ t: Case, threads: Int) throws {
        var conv = FusedConv(weight: Self.values(t.oc * t.c * t.k * t.k, seed: 4).map { $0 * 0.37 },
                             bias: Self.values(t.oc, seed: 5), outChannels: t.oc, kernel: (t.k, t.k),
                             strides: t.stride, pads: (t.pad, t.pad, t.pad, t.pad), dilations: (1, 1), groups: 1,
                             transposed: false)
        conv.activation = t.act
        conv.alpha = 1.0 / 6
        conv.beta = 0.5
        #expect(conv.depth == t.c * t.k * t.k)
        conv.bfloat16Weight = conv.bfloat16Packed()
        let x = Self.values(t.n * t.c * t.h * t.w, seed: 6).map { $0 * 1.91 }
        let node = Node(name: "conv", opType: "Conv", domain: "", inputs: ["x", "w"], outputs: ["y"], attributes: [:])
        let y = try Kernels.conv(conv, Tensor(shape: [t.n, t.c, t.h, t.w], floats: x), node: node, threads: threads).floats
        let bf16 = ProductPrecision.bfloat16IsAvailable
        var rounded = conv
        if bf16 { rounded.weight = conv.weight.map(Self.bfloat16) }
        let expected = Self.reference(rounded, bf16 ? x.map(Self.bfloat16) : x, n: t.n, c: t.c, h: t.h, w: t.w)
        #expect(y.count == expected.count)
        let diff = zip(y, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(diff < 1e-4, "\(t), bfloat16 \(bf16): max difference \(diff)")
        // And bfloat16 is not fp32: the unrounded operands give visibly other values.
        if bf16 {
            let exact = Self.reference(conv, x, n: t.n, c: t.c, h: t.h, w: t.w)
            #expect((zip(y, exact).map { abs($0 - $1) }.max() ?? 0) > 1e-4, "\(t)")
        }
    }

    @Test(arguments: [(2, 24, 9, 13, 3), (1, 6, 40, 70, 1), (1, 4, 300, 60, 24)], [1, 2])  // the last in several chunks
    func transposedConvolutionMatchesADirectLoop(_ shape: (Int, Int, Int, Int, Int), threads: Int) throws {
        let (n, c, h, w, oc) = shape
        let (kh, kw) = (2, 2)
        let weight = Self.values(c * oc * kh * kw, seed: 7), bias = Self.values(oc, seed: 8)
        let node = Node(name: "ct", opType: "ConvTranspose", domain: "", inputs: ["x", "w", "b"], outputs: ["y"],
                        attributes: ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        var conv = try Kernels.makeConv(node, weight: Tensor(shape: [c, oc, kh, kw], floats: weight),
                                        bias: Tensor(shape: [oc], floats: bias))
        conv.activation = 1
        let x = Self.values(n * c * h * w, seed: 9)
        let y = try Kernels.conv(conv, Tensor(shape: [n, c, h, w], floats: x), node: node, threads: threads)
        #expect(y.shape == [n, oc, h * kh, w * kw])
        var diff: Float = 0
        let yv = y.floats
        for b in 0..<n { for o in 0..<oc { for i in 0..<h { for j in 0..<w { for ky in 0..<kh { for kx in 0..<kw {
            var sum = Double(bias[o])
            for ci in 0..<c { sum += Double(x[((b * c + ci) * h + i) * w + j]) * Double(weight[((ci * oc + o) * kh + ky) * kw + kx]) }
            let expected = max(Float(sum), 0)
            diff = max(diff, abs(yv[((b * oc + o) * h * kh + i * kh + ky) * w * kw + j * kw + kx] - expected))
        } } } } } }
        #expect(diff < 1e-4, "max difference \(diff)")
    }

    @Test func elementwiseFastPathsMatchBroadcasting() throws {
        let node = Node(name: "op", opType: "Mul", domain: "", inputs: ["a", "b"], outputs: ["y"], attributes: [:])
        let full = Tensor(shape: [2, 3, 40, 50], floats: Self.values(2 * 3 * 40 * 50, seed: 10))
        var other = Self.values(full.count, seed: 11)
        for i in stride(from: 0, to: other.count, by: 7) { other[i] = 0 }  // Div by 0 gives 0
        let same = Tensor(shape: full.shape, floats: other)
        let planes = Tensor(shape: [2, 3, 1, 1], floats: Self.values(6, seed: 12))
        let ops: [(skiff_binary_op, (Float, Float) -> Float)] = [
            (SKIFF_BIN_ADD, +), (SKIFF_BIN_SUB, -), (SKIFF_BIN_MUL, *), (SKIFF_BIN_DIV, { $1 == 0 ? 0 : $0 / $1 }),
        ]
        for (op, f) in ops {
            for (a, b) in [(full, same), (full, planes), (planes, full)] {
                let fast = try #require(Kernels.planeBinary(op, a, b, threads: 2))
                let plain = try Kernels.binary(node, a, b, f) { x, _ in x }
                #expect(fast.shape == plain.shape && fast.floats == plain.floats, "op \(op.rawValue) \(a.shape) \(b.shape)")
            }
        }
        #expect(Kernels.planeBinary(SKIFF_BIN_ADD, full, Tensor(shape: [50], floats: Self.values(50, seed: 13)), threads: 2) == nil)
    }

    @Test func linearHeadIsSplitOffAndGivesTheSoftmaxArgmax() throws {
        // Several class tiles (1,024 classes each) and row blocks (128 rows).
        let dim = 5, classes = 2500
        let w = floatTensor("w", shape: [dim, classes], Self.values(dim * classes, seed: 4))
        let b = floatTensor("b", shape: [classes], Self.values(classes, seed: 5))
        let data = model(nodes: [
            node("Relu", inputs: ["x"], outputs: ["f"], name: "relu"),
            node("MatMul", inputs: ["f", "w"], outputs: ["p"], name: "mm"),
            node("Add", inputs: ["p", "b"], outputs: ["l"], name: "add"),
            node("Identity", inputs: ["l"], outputs: ["y"], name: "id"),
        ], initializers: [w, b], inputs: ["x"], outputs: ["y"])
        let full = try InferenceSession(model: ONNXModel(data: data))
        var split = try ONNXModel(data: data)
        let head = try #require(LinearHead.split(&split))
        #expect(split.graph.outputs == ["f"] && split.graph.nodes.map(\.opType) == ["Relu"])
        #expect(head.dim == dim && head.classes == classes)
        let body = try InferenceSession(model: split)
        let rows = 150
        let x = Tensor(shape: [1, rows, dim], floats: Self.values(rows * dim, seed: 6))
        let logits = try full.run(x)
        let features = try body.run(x)
        #expect(try head.logits(features).floats == logits.floats)
        for threads in [1, 2] {
            let best = try head.best(features, threads: threads)
            let l = logits.floats
            for r in 0..<rows {
                let row = Array(l[(r * classes)..<((r + 1) * classes)])
                let m = try #require(row.max())
                #expect(Int(best.classes[r]) == row.firstIndex(of: m))
                let p = 1 / row.reduce(0.0) { $0 + exp(Double($1 - m)) }
                #expect(abs(Double(best.probabilities[r]) - p) < 1e-6)
            }
        }
        // A graph that does not end in a constant product keeps its nodes.
        var other = try ONNXModel(data: model(nodes: [node("Relu", inputs: ["x"], outputs: ["y"], name: "r")],
                                              inputs: ["x"], outputs: ["y"]))
        let none = LinearHead.split(&other)
        #expect(none == nil)
        #expect(other.graph.nodes.count == 1)
    }

    /// Rows built to be close calls (two classes with the same weight column, and columns a
    /// hair apart) still get fp32's class from the bfloat16 head: first index on ties.
    @Test func bfloat16HeadKeepsFloat32ClassesOnCloseCalls() throws {
        let dim = 24, classes = 203, rows = 100
        var generator = SystemRandomNumberGenerator()
        func unit() -> Float { Float.random(in: 0..<1, using: &generator) }
        var weight = (0..<(dim * classes)).map { _ in unit() - 0.5 }
        for j in 0..<dim {
            weight[j * classes + 150] = weight[j * classes + 17]            // an exact tie
            weight[j * classes + 90] = weight[j * classes + 40] * 1.0001     // a near tie
        }
        let bias = (0..<classes).map { c in c == 150 || c == 17 || c == 40 || c == 90 ? Float(3) : unit() * 0.1 }
        let x = (0..<(rows * dim)).map { _ in (unit() - 0.5) * 3 }
        let exact = LinearHead(weight: weight, bias: bias, dim: dim, classes: classes)
        let fast = exact.withBFloat16Products()
        #expect(fast.usesBFloat16 == ProductPrecision.bfloat16IsAvailable)
        let features = Tensor(shape: [rows, dim], floats: x)
        let a = try fast.best(features, threads: 2), b = try exact.best(features, threads: 2)
        #expect(a.classes == b.classes)
        #expect(b.classes.contains(17) || b.classes.contains(40) || b.classes.contains(90))
        #expect(!b.classes.contains(150))
        let worst = zip(a.probabilities, b.probabilities).map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-2)
    }
}
