public import SkiffImage
public import SkiffONNX
internal import Foundation

/// One recognised character and where the network saw it: frames are the CTC time steps of
/// the network input (8 pixels of the 48-pixel-high line each).
public struct CharacterTiming: Sendable, Hashable {
    public var character: String
    /// First and last frame of the character's run (inclusive), in input frames.
    public var firstFrame: Int
    public var lastFrame: Int
    public var probability: Double
}

/// The recognition of one line crop.
public struct LineReading: Sendable, Hashable {
    public var text: String
    /// Mean probability of the kept characters (rapidocr's score).
    public var confidence: Double
    public var characters: [CharacterTiming]
    /// Crop pixels per frame: frame f starts at crop x = f * cropPixelsPerFrame.
    public var cropPixelsPerFrame: Double
    /// Network-input pixels per frame (the line is 48 of them high).
    public var inputPixelsPerFrame: Double = 8
    /// Runs of ink-free columns of the 48-high line image (network-input pixels), where the
    /// line has enough contrast to tell ink from paper. CTC frames are 8 pixels wide, too coarse
    /// to see a word space in tight print; the columns show it.
    public var blankColumns: [ClosedRange<Int>] = []
}

/// Ink-free column runs of a line image: a pixel is ink when it is darker than the midpoint of
/// the line's 5th and 95th grey percentiles (lighter, for light-on-dark lines).
func blankColumnRuns(_ line: PixelBuffer) -> [ClosedRange<Int>] {
    let w = line.width, h = line.height
    guard w > 0, h > 0 else { return [] }
    var gray = [UInt8](repeating: 0, count: w * h)
    line.pixels.withUnsafeBufferPointer { p in
        for i in 0..<(w * h) { gray[i] = UInt8((Int(p[3 * i]) + Int(p[3 * i + 1]) + Int(p[3 * i + 2])) / 3) }
    }
    var histogram = [Int](repeating: 0, count: 256)
    for g in gray { histogram[Int(g)] += 1 }
    func percentile(_ q: Double) -> Int {
        let target = Int(Double(w * h) * q)
        var acc = 0
        for v in 0..<256 { acc += histogram[v]; if acc > target { return v } }
        return 255
    }
    let lo = percentile(0.05), hi = percentile(0.95), median = percentile(0.5)
    guard hi - lo >= 40 else { return [] }
    let mid = (lo + hi) / 2
    let darkText = median >= mid
    var runs: [ClosedRange<Int>] = []
    var start: Int?
    for x in 0..<w {
        var ink = 0
        for y in (h / 8)..<(h - h / 8) {
            let g = Int(gray[y * w + x])
            if darkText ? g < mid : g > mid { ink += 1 }
        }
        if ink == 0 {
            if start == nil { start = x }
        } else if let s = start {
            runs.append(s...(x - 1))
            start = nil
        }
    }
    if let s = start { runs.append(s...(w - 1)) }
    return runs
}

/// The PP-OCRv5 recognition network with CTC greedy decoding.
public struct TextRecognizer: Sendable {
    public let session: InferenceSession
    /// keys[i] is class i ("blank" at 0).
    public let keys: [String]
    /// Lines per network run; rapidocr uses 6. Lines are sorted by aspect ratio first and padded
    /// to the widest of their batch.
    public var batchSize: Int
    /// Lines narrower than this (at height 48) are padded to it; rapidocr uses 320. Padding
    /// short lines costs frames through the whole network (and the padded frames take part in
    /// the attention, so results move slightly with it).
    public var minimumWidth: Int

    public static let height = 48

    public init(session: InferenceSession, keysPath: String, batchSize: Int = 6, minimumWidth: Int = 320) throws(PPOCRError) {
        self.session = session
        self.batchSize = max(1, batchSize)
        self.minimumWidth = max(8, minimumWidth)
        guard let data = FileManager.default.contents(atPath: keysPath) else {
            throw .modelNotFound(file: keysPath, searched: [keysPath])
        }
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        keys = lines.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    }

    /// The network's class scores for lines already scaled to height 48 and of one width
    /// (`input` is [n, 3, 48, width]): [n, frames, classes]. The session ends before the final
    /// Softmax when it was loaded with `TextRecognizer.session(path:options:)`: decoding needs only
    /// each frame's best class and its probability, which `decode` takes from the logits.
    public func logits(_ input: Tensor) throws(PPOCRError) -> Tensor {
        let out: Tensor
        do { out = try session.run(input) } catch { throw .runtime(error) }
        guard out.shape.count == 3 else { throw .runtime(.badInput("recognition output has shape \(out.shape)")) }
        guard out.shape[2] == keys.count else {
            throw .keysMismatch(path: "keys file", keys: keys.count, classes: out.shape[2])
        }
        return out
    }

    /// Recognises line crops (any size; each is scaled to height 48).
    public func recognize(_ crops: [PixelBuffer]) throws(PPOCRError) -> [LineReading] {
        let ratios = crops.map { Double($0.width) / Double(max($0.height, 1)) }
        let order = ratios.indices.sorted { ratios[$0] != ratios[$1] ? ratios[$0] < ratios[$1] : $0 < $1 }
        var results = [LineReading?](repeating: nil, count: crops.count)
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(start + batchSize, order.count)])
            start += batchSize
            let maxRatio = max(Double(minimumWidth) / 48.0, batch.map { ratios[$0] }.max() ?? 0)
            let width = max(8, Int(Double(Self.height) * maxRatio))
            let h = Self.height
            var data = [Float](repeating: 0, count: batch.count * 3 * h * width)
            var contentWidths: [Int] = []
            var blanks: [[ClosedRange<Int>]] = []
            data.withUnsafeMutableBufferPointer { p in
                for (k, index) in batch.enumerated() {
                    let crop = crops[index]
                    let wanted = Int((Double(h) * ratios[index]).rounded(.up))
                    let resizedWidth = max(1, min(wanted, width))
                    contentWidths.append(resizedWidth)
                    let line = ImageOps.resize(crop, width: resizedWidth, height: h)
                    blanks.append(blankColumnRuns(line))
                    ImageOps.normalize(line, into: p.baseAddress! + k * 3 * h * width, stride: width, scaling: .recognition)
                }
            }
            let probs = try logits(Tensor(shape: [batch.count, 3, h, width], floats: data))
            let frames = probs.shape[1], classes = probs.shape[2]
            let values = probs.floats
            for (k, index) in batch.enumerated() {
                let pixelsPerFrame = Double(width) / Double(frames) * Double(crops[index].width) / Double(contentWidths[k])
                results[index] = values.withUnsafeBufferPointer { p in
                    var reading = decode(p.baseAddress! + k * frames * classes, frames: frames, classes: classes,
                                         cropPixelsPerFrame: pixelsPerFrame)
                    reading.inputPixelsPerFrame = Double(width) / Double(frames)
                    reading.blankColumns = blanks[k]
                    return reading
                }
            }
        }
        return results.map { $0 ?? LineReading(text: "", confidence: 0, characters: [], cropPixelsPerFrame: 1) }
    }

    /// Loads the recognition network without its final Softmax (see `logits`).
    public static func session(path: String, options: SessionOptions) throws(ONNXError) -> InferenceSession {
        var model = try ONNXModel(contentsOf: path)
        var graph = model.graph
        if let last = graph.nodes.last, last.opType == "Softmax", graph.outputs == last.outputs, let input = last.inputs.first {
            graph.nodes.removeLast()
            graph.outputs = [input]
            model.graph = graph
        }
        return try InferenceSession(model: model, options: options,
                                    label: String(path.split(separator: "/").last ?? Substring(path)))
    }

    /// Softmax of one frame's logits (what the full network outputs), for tests and reports.
    public static func softmax(_ row: UnsafePointer<Float>, classes: Int) -> [Float] {
        var m = row[0]
        for c in 1..<classes { m = max(m, row[c]) }
        var e = (0..<classes).map { expf(row[$0] - m) }
        let s = e.reduce(0, +)
        for c in e.indices { e[c] /= s }
        return e
    }

    /// CTC greedy decoding: the best class per frame, repeats collapsed, blanks dropped.
    /// The best class's probability is 1 / sum(exp(l - l_max)); classes more than 30 below the
    /// maximum add less than 1e-13 each and are skipped.
    func decode(_ p: UnsafePointer<Float>, frames: Int, classes: Int, cropPixelsPerFrame: Double) -> LineReading {
        var best = [Int](repeating: 0, count: frames), bestP = [Float](repeating: 0, count: frames)
        for t in 0..<frames {
            let row = p + t * classes
            var m = row[0], mi = 0
            for c in 1..<classes where row[c] > m { m = row[c]; mi = c }
            var sum: Float = 0
            let floor = m - 30
            for c in 0..<classes where row[c] > floor { sum += expf(row[c] - m) }
            best[t] = mi
            bestP[t] = 1 / sum
        }
        var chars: [CharacterTiming] = []
        for t in 0..<frames {
            let c = best[t]
            if t > 0 && best[t - 1] == c {
                if c != 0, !chars.isEmpty { chars[chars.count - 1].lastFrame = t }
                continue
            }
            guard c != 0 else { continue }
            chars.append(CharacterTiming(character: c < keys.count ? keys[c] : "", firstFrame: t, lastFrame: t,
                                         probability: Double(bestP[t])))
        }
        // rapidocr rounds each probability to 5 digits before averaging.
        let confidence = chars.isEmpty ? 0 : chars.map { ($0.probability * 1e5).rounded() / 1e5 }.reduce(0, +) / Double(chars.count)
        return LineReading(text: chars.map(\.character).joined(), confidence: confidence, characters: chars,
                           cropPixelsPerFrame: cropPixelsPerFrame)
    }
}
