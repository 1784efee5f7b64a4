import ArgumentParser
import Foundation
import Skiff

/// `skiff bench ppocr`: PP-OCRv5 on Skiff's runtime next to Tesseract on a receipt set with line
/// ground truth (SROIE layout: img/*.jpg, box/*.csv, key/*.json), in one run.
struct PPOCRBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ppocr",
        abstract: "PP-OCR vs Tesseract on receipts: page CER, bag-of-words recall, totals found, s/page, parity.",
        discussion: """
            Reads DIR/img/*.jpg with both engines. Page CER (NFC profile) compares the page text, as \
            produced, with the ground-truth lines of DIR/box/*.csv in file order; bag-of-words recall \
            is the share of ground-truth words (split at spaces, counted with multiplicity) found in \
            the output; 'total present' counts pages whose text contains key/*.json's total. With \
            --reference (tools/make_ppocr_fixtures.py --dev), the reference's boxes are recognised \
            again and the line texts compared with onnxruntime + rapidocr's.
            """)

    @Argument(help: "A receipt folder (img/, box/, key/).")
    var directory: String = "../shared/data/sroie-dev"

    @Option(help: "Use at most this many pages.")
    var pages: Int = 1000

    @Option(help: "rapidocr's lines for the same images (JSON written by tools/make_ppocr_fixtures.py --dev).")
    var reference: String?

    @Option(help: "PP-OCR threads.")
    var threads: Int = 2

    @Option(help: "Detection side limit.")
    var limitSide: Int = 736

    @Option(help: "Detection limit type: min (scale small pages up) or max (scale large pages down).")
    var limitType: String = "min"

    @Option(help: "A gap wider than this many line heights is a space.")
    var spaceGap: Double = 0.45

    @Option(help: "Lines per recognition batch.")
    var batch: Int = 6

    @Option(help: "Tesseract page segmentation mode.")
    var psm: Int = 3

    @Flag(help: "Skip Tesseract.")
    var skipTesseract = false

    func run() async throws {
        let root = URL(fileURLWithPath: directory)
        let images = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("img").path)) ?? [])
            .filter { $0.hasSuffix(".jpg") }.sorted().prefix(pages)
        guard !images.isEmpty else {
            printError("skiff bench ppocr: no images in \(root.appendingPathComponent("img").path)")
            throw ExitCode(1)
        }
        let ppConfig = PPOCRConfiguration(threads: threads, limitSideLength: limitSide,
                                          limitType: limitType == "max" ? .max : .min, recognitionBatch: batch,
                                          spaceGap: spaceGap)
        let pp = try PPOCREngine(configuration: ppConfig)
        let tesseract = skipTesseract ? nil : try TesseractEngine(configuration: TesseractConfiguration(pageSegmentationMode: psm))
        var refPages: [String: [[String: Any]]] = [:]
        if let reference {
            let data = try Data(contentsOf: URL(fileURLWithPath: reference))
            refPages = (try JSONSerialization.jsonObject(with: data) as? [String: [[String: Any]]]) ?? [:]
        }
        emit("skiff bench ppocr: \(images.count) pages of \(directory), PP-OCR \(threads) threads, det limit \(limitType) \(limitSide), batch \(batch), space gap \(spaceGap); \(ProcessInfo.processInfo.activeProcessorCount) cores, load \(loadAverage())")

        struct Tally {
            var cer: [Double] = []
            var recall: (found: Int, total: Int) = (0, 0)
            var totals = 0
            var seconds = 0.0
        }
        var ppT = Tally(), tessT = Tally()
        var parity = (equal: 0, lines: 0), detMatch = (matched: 0, lines: 0)
        var parityMisses: [String] = []
        let scorer = TextScorer(profile: .nfc)
        let loader = DocumentLoader()
        for name in images {
            let id = String(name.dropLast(4))
            let gt = try groundTruth(root.appendingPathComponent("box/\(id).csv"))
            let total = keyTotal(root.appendingPathComponent("key/\(id).json"))
            let url = root.appendingPathComponent("img/\(name)")
            func measure(_ tally: inout Tally, _ body: (PixelBuffer) throws -> String) throws {
                let clock = ContinuousClock(), start = clock.now
                let image = try loader.load(contentsOf: url).pages[0].image
                let text = try body(image)
                tally.seconds += (clock.now - start).seconds
                tally.cer.append(scorer.score(reference: gt, hypothesis: text).cer)
                let r = bagRecall(reference: gt, hypothesis: text)
                tally.recall.found += r.found
                tally.recall.total += r.total
                if let total, text.contains(total) { tally.totals += 1 }
            }
            try measure(&ppT) { try pp.recognize($0, page: 0).text }
            if let tesseract { try measure(&tessT) { try tesseract.recognize($0, page: 0).text } }
            if let lines = refPages[name] {
                let image = try loader.load(contentsOf: url).pages[0].image
                let boxes = lines.compactMap { line -> TextBox? in
                    guard let pts = line["box"] as? [[Double]], pts.count == 4 else { return nil }
                    return TextBox(corners: pts.map { Point(x: $0[0], y: $0[1]) }, score: 1)
                }
                let ours = try pp.read(image, boxes: boxes)
                for (line, read) in zip(lines, ours) {
                    parity.lines += 1
                    if read.reading.text == line["text"] as? String { parity.equal += 1 }
                    else if parityMisses.count < 8 { parityMisses.append("\(id): '\(line["text"] as? String ?? "")' vs '\(read.reading.text)'") }
                }
                if ppConfig.limitSideLength == 736, ppConfig.limitType == .min {
                    let detected = try pp.detect(image)
                    for b in boxes {
                        detMatch.lines += 1
                        if detected.contains(where: { d in zip(d.corners, b.corners).allSatisfy { abs($0.x - $1.x) <= 2 && abs($0.y - $1.y) <= 2 } }) {
                            detMatch.matched += 1
                        }
                    }
                }
            }
        }
        func line(_ label: String, _ t: Tally) -> String {
            let cer = t.cer.reduce(0, +) / Double(max(t.cer.count, 1))
            let recall = Double(t.recall.found) / Double(max(t.recall.total, 1))
            return label.padding(toLength: 22, withPad: " ", startingAt: 0)
                + String(format: "page CER %.3f   BoW recall %.3f   total present %d/%d   %.2f s/page",
                         cer, recall, t.totals, t.cer.count, t.seconds / Double(max(t.cer.count, 1)))
        }
        emit(line("ppocr (skiff runtime)", ppT))
        if tesseract != nil {
            emit(line("tesseract psm \(psm)", tessT))
            emit(String(format: "time ratio ppocr/tesseract %.2f", ppT.seconds / max(tessT.seconds, 1e-9)))
        }
        if parity.lines > 0 {
            emit(String(format: "parity vs onnxruntime+rapidocr (same boxes): %d/%d lines equal (%.1f%%)",
                        parity.equal, parity.lines, 100 * Double(parity.equal) / Double(parity.lines)))
            for miss in parityMisses { emit("  differs: \(miss)") }
        }
        if detMatch.lines > 0 {
            emit(String(format: "detection: %d/%d reference boxes found within 2 px (%.1f%%)",
                        detMatch.matched, detMatch.lines, 100 * Double(detMatch.matched) / Double(detMatch.lines)))
        }
    }

    /// The box csv's transcripts in file order, one per line (x1,y1,...,y4,TEXT; TEXT may hold commas).
    func groundTruth(_ url: URL) throws -> String {
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(whereSeparator: \.isNewline).compactMap { row -> String? in
            var rest = Substring(row)
            for _ in 0..<8 {
                guard let comma = rest.firstIndex(of: ",") else { return nil }
                rest = rest[rest.index(after: comma)...]
            }
            return String(rest)
        }.joined(separator: "\n")
    }

    func keyTotal(_ url: URL) -> String? {
        guard let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["total"] as? String
    }

    func bagRecall(reference: String, hypothesis: String) -> (found: Int, total: Int) {
        var bag: [Substring: Int] = [:]
        for w in hypothesis.split(whereSeparator: \.isWhitespace) { bag[w, default: 0] += 1 }
        var found = 0, total = 0
        for w in reference.split(whereSeparator: \.isWhitespace) {
            total += 1
            if let n = bag[w], n > 0 { found += 1; bag[w] = n - 1 }
        }
        return (found, total)
    }

    func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
    }
}

